"""Generates the shipped XSD files from the record models, so the two cannot drift apart.

Run ``python -m standards.formats.xsd_gen`` after changing a model; a test checks that the
files in ``xsd/`` are what this module renders. Each XSD stands alone (no imports), which
is what partners' tools handle most easily.
"""

from __future__ import annotations

import datetime as dt
import enum
import types
import typing
from pathlib import Path
from typing import Any

import annotated_types
from lxml import etree
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from standards.formats.layout import FORMAT_VERSION, LIST_ITEM_TAG, ROOT_OF_KIND
from standards.records import RECORD_KINDS

XS = "http://www.w3.org/2001/XMLSchema"
_XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
XSD_DIR = Path(__file__).with_name("xsd")

# Structure of the codes, as published to partners (the models take any text so that a
# wrong code is reported by the identifier rules with a precise reason).
CODE_PATTERNS: dict[str, tuple[str, str]] = {
    "basic_code": ("BasicCode", "[0-9]{12}"),
    "impl_code": ("ImplCode", "[0-9A-Z]{18}[1-6][0-9]{12}"),
    "handling_code": ("HandlingCode", "[0-9A-Z]{18}[1-6][0-9]{14}"),
    "authority_uscc": ("Uscc", "[0-9A-Z]{18}"),
    "region_code": ("RegionCode", "[0-9]{6}([0-9]{6})?"),
    "type_code": ("LicenseTypeCode", "[0-9A-Z]{21}"),
    "issuer_code": ("IssuerCode", "[0-9A-Z]{18}|[0-9]{6}"),
    "identifier": ("LicenseIdentifier", r"1\.2\.156\.3005\.2\.[0-9A-Za-z.]+"),
}
_TYPE_TITLES = {
    "Item": "政务服务事项",
    "Fee": "收费",
    "RequiredMaterial": "申请材料",
    "Case": "办件",
    "Applicant": "申请人",
    "CaseEvent": "办件状态记录",
    "Material": "材料",
    "License": "电子证照目录信息",
    "ItemType": "事项类型",
    "ExerciseLevel": "行使层级",
    "CaseState": "办件状态",
    "IdType": "证件类型",
    "ReviewStatus": "事项状态",
    "LicenseStatus": "证照状态",
}
_KIND_TITLES = {
    "item": "政务服务事项",
    "case": "办件",
    "material": "材料清单（file 为相对清单文件的路径）",
    "license": "电子证照目录信息",
}


def _q(name: str) -> str:
    return f"{{{XS}}}{name}"


def _doc(parent: Any, text: str | None) -> None:
    if text:
        annotation = etree.SubElement(parent, _q("annotation"))
        etree.SubElement(annotation, _q("documentation"), {_XML_LANG: "zh"}).text = text


def _unwrap(annotation: Any) -> tuple[Any, bool]:
    """The inner type of ``X | None`` and whether None was allowed."""
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return args[0], True
    return annotation, False


class _Renderer:
    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.schema = etree.Element(_q("schema"), nsmap={"xs": XS})
        self.schema.set("elementFormDefault", "unqualified")
        self.schema.set("version", FORMAT_VERSION)
        self.named: dict[str, Any] = {}  # type name -> definition, in first-use order

    def render(self) -> bytes:
        model = RECORD_KINDS[self.kind]
        root_tag = ROOT_OF_KIND[self.kind]
        _doc(self.schema, f"同源交换格式 第 {FORMAT_VERSION} 版：{_KIND_TITLES[self.kind]}")
        root = etree.SubElement(self.schema, _q("element"), name=root_tag)
        _doc(root, f"{_KIND_TITLES[self.kind]}集合")
        complex_type = etree.SubElement(root, _q("complexType"))
        sequence = etree.SubElement(complex_type, _q("sequence"))
        etree.SubElement(
            sequence,
            _q("element"),
            name=self.kind,
            type=self._model_type(model),
            minOccurs="0",
            maxOccurs="unbounded",
        )
        etree.SubElement(
            complex_type, _q("attribute"), name="version", type="xs:string", fixed=FORMAT_VERSION
        )
        for definition in self.named.values():
            self.schema.append(definition)
        return etree.tostring(
            self.schema, xml_declaration=True, encoding="UTF-8", pretty_print=True
        )

    def _model_type(self, model: type[BaseModel]) -> str:
        name = model.__name__
        if name in self.named:
            return name
        definition = etree.Element(_q("complexType"), name=name)
        self.named[name] = definition
        _doc(definition, _TYPE_TITLES.get(name))
        # xs:all: fields may come in any order, each at most once.
        group = etree.SubElement(definition, _q("all"))
        for field_name, info in model.model_fields.items():
            self._field(group, field_name, info)
        return name

    def _field(self, group: Any, name: str, info: FieldInfo) -> None:
        annotation, nullable = _unwrap(info.annotation)
        optional = nullable or not info.is_required()
        element = etree.SubElement(group, _q("element"), name=name)
        if optional:
            element.set("minOccurs", "0")
        annotation_type = annotation if isinstance(annotation, type) else None
        _doc(
            element, info.description or _TYPE_TITLES.get(getattr(annotation_type, "__name__", ""))
        )
        if typing.get_origin(annotation) is list:
            (item_type,) = typing.get_args(annotation)
            container = etree.SubElement(element, _q("complexType"))
            sequence = etree.SubElement(container, _q("sequence"))
            item = etree.SubElement(sequence, _q("element"), name=LIST_ITEM_TAG[name])
            item.set("minOccurs", str(_min_length(info) or 0))
            item.set("maxOccurs", "unbounded")
            item.set("type", self._type_of(item_type, None, LIST_ITEM_TAG[name]))
            return
        element.set("type", self._type_of(annotation, info, name))

    def _type_of(self, annotation: Any, info: FieldInfo | None, name: str) -> str:
        if typing.get_origin(annotation) is typing.Annotated:
            annotation = typing.get_args(annotation)[0]  # a normalising validator: same type
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            return self._model_type(annotation)
        if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
            return self._enum_type(annotation)
        if name in CODE_PATTERNS:
            type_name, pattern = CODE_PATTERNS[name]
            if type_name not in self.named:
                simple = etree.Element(_q("simpleType"), name=type_name)
                restriction = etree.SubElement(simple, _q("restriction"), base="xs:string")
                etree.SubElement(restriction, _q("pattern"), value=pattern)
                self.named[type_name] = simple
            return type_name
        base = {
            str: "xs:string",
            int: "xs:integer",
            bool: "xs:boolean",
            dt.date: "xs:date",
            dt.datetime: "xs:dateTime",
        }[annotation]
        facets = _facets(info)
        if not facets:
            return base
        return self._restricted(base, facets, name)

    def _restricted(self, base: str, facets: list[tuple[str, str]], field: str) -> str:
        if any(facet == "pattern" for facet, _ in facets):
            type_name = "".join(part.capitalize() for part in field.split("_")) + "Text"
        else:
            type_name = base.removeprefix("xs:").capitalize() + "".join(
                f"_{facet}{value}" for facet, value in facets
            )
        if type_name not in self.named:
            simple = etree.Element(_q("simpleType"), name=type_name)
            restriction = etree.SubElement(simple, _q("restriction"), base=base)
            for facet, value in facets:
                etree.SubElement(restriction, _q(facet), value=value)
            self.named[type_name] = simple
        return type_name

    def _enum_type(self, enum_type: type[enum.Enum]) -> str:
        type_name = f"{enum_type.__name__}Code"
        if type_name not in self.named:
            simple = etree.Element(_q("simpleType"), name=type_name)
            _doc(simple, _TYPE_TITLES.get(enum_type.__name__))
            restriction = etree.SubElement(simple, _q("restriction"), base="xs:string")
            for member in enum_type:
                value = etree.SubElement(restriction, _q("enumeration"), value=member.value)
                _doc(value, getattr(member, "label", None))
            self.named[type_name] = simple
        return type_name


def _min_length(info: FieldInfo) -> int | None:
    for meta in info.metadata:
        if isinstance(meta, annotated_types.MinLen):
            return meta.min_length
    return None


def _facets(info: FieldInfo | None) -> list[tuple[str, str]]:
    facets: list[tuple[str, str]] = []
    if info is None:
        return facets
    for meta in info.metadata:
        if isinstance(meta, annotated_types.MinLen):
            facets.append(("minLength", str(meta.min_length)))
        elif isinstance(meta, annotated_types.MaxLen):
            facets.append(("maxLength", str(meta.max_length)))
        elif isinstance(meta, annotated_types.Ge):
            facets.append(("minInclusive", str(meta.ge)))
        elif isinstance(meta, annotated_types.Le):
            facets.append(("maxInclusive", str(meta.le)))
        elif getattr(meta, "pattern", None):
            # Python anchors with ^…$; XSD patterns always match the whole value.
            facets.append(("pattern", meta.pattern.removeprefix("^").removesuffix("$")))
    return facets


def render_xsd(kind: str) -> bytes:
    """The XSD text for one record kind."""
    return _Renderer(kind).render()


def write_all(directory: Path = XSD_DIR) -> list[Path]:
    """(Re)write every shipped XSD; returns the paths written."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for kind, root in ROOT_OF_KIND.items():
        target = directory / f"{root}.xsd"
        target.write_bytes(render_xsd(kind))
        written.append(target)
    return written


if __name__ == "__main__":
    for written_path in write_all():
        print(written_path)
