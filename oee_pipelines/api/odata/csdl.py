"""The service's `$metadata` (CSDL XML, OData v4.0) and service document, built from the entity model."""

from __future__ import annotations

from typing import Any
from xml.etree import ElementTree

from oee_pipelines.api.odata.model import ENTITY_SETS, NAMESPACE, Edm, EntitySet, Property

EDMX_NS = "http://docs.oasis-open.org/odata/ns/edmx"
EDM_NS = "http://docs.oasis-open.org/odata/ns/edm"
CONTAINER = "Container"


def _property_element(parent: ElementTree.Element, prop: Property) -> None:
    attributes = {"Name": prop.name, "Type": prop.edm.value}
    if not prop.nullable:
        attributes["Nullable"] = "false"
    if prop.edm is Edm.DECIMAL:
        attributes["Scale"] = "variable"  # CSDL's default scale is 0: whole numbers only
    if prop.edm is Edm.DATETIME:
        attributes["Precision"] = "6"
    ElementTree.SubElement(parent, "Property", attributes)


def _entity_type(schema: ElementTree.Element, entity_set: EntitySet) -> None:
    entity_type = ElementTree.SubElement(schema, "EntityType", {"Name": entity_set.type_name})
    key = ElementTree.SubElement(entity_type, "Key")
    for name in entity_set.key:
        ElementTree.SubElement(key, "PropertyRef", {"Name": name})
    for prop in entity_set.properties:
        _property_element(entity_type, prop)


def metadata_document() -> bytes:
    ElementTree.register_namespace("edmx", EDMX_NS)
    root = ElementTree.Element(f"{{{EDMX_NS}}}Edmx", {"Version": "4.0"})
    services = ElementTree.SubElement(root, f"{{{EDMX_NS}}}DataServices")
    schema = ElementTree.SubElement(services, "Schema", {"xmlns": EDM_NS, "Namespace": NAMESPACE})
    for entity_set in ENTITY_SETS.values():
        _entity_type(schema, entity_set)
    container = ElementTree.SubElement(schema, "EntityContainer", {"Name": CONTAINER})
    for entity_set in ENTITY_SETS.values():
        ElementTree.SubElement(
            container,
            "EntitySet",
            {"Name": entity_set.name, "EntityType": f"{NAMESPACE}.{entity_set.type_name}"},
        )
    return ElementTree.tostring(root, encoding="utf-8", xml_declaration=True)


def service_document(service_root: str) -> dict[str, Any]:
    return {
        "@odata.context": f"{service_root}$metadata",
        "value": [{"name": name, "kind": "EntitySet", "url": name} for name in ENTITY_SETS],
    }
