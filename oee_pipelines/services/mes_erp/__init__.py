"""The MES/ERP service: syncing the MES (recipes, work orders, schedules, operator assignments, order
status push-back) and the ERP (materials, labour costs), without Dagster.

It is the only writer of `recipes`, `work_orders`, `production_schedules` (`schedules.py`, also for
the schedule import), `operators` and `operator_shifts` (`operators.py`), `materials`,
`labor_costs`, `mes_schedule_sync`, `recipe_downloads` and `mes_order_status_pushes`. The master
data the MES holds (products and ideal cycle times from recipes) is handed by `master_data.py` to
the plant service (`services/plant/`, the only writer of the plant tables), which applies the plant
model's precedence. The Dagster assets in `defs/mes/` and `defs/erp/` call it; the API and the
demo build their run requests with `run_requests.py`.
"""
