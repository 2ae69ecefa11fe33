"""The fault and load suite (`make reliability`): each scenario prints its figures and what was lost."""
