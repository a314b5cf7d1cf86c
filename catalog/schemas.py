"""Catalog entries as validated documents: the YAML file, the API bodies and
the API responses share these shapes."""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from catalog import codes
from identity.codes import validate_uscc
from identity.errors import InvalidCode
from identity.masking import MaskRule


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


def _code(validator):
    """Wrap a code validator so pydantic reports its message as a value error."""

    def check(value: str) -> str:
        try:
            return validator(value)
        except InvalidCode as exc:
            raise ValueError(str(exc)) from None

    return check


class Level(StrEnum):
    national = "national"
    province = "province"
    city = "city"
    county = "county"


class HolderKind(StrEnum):
    natural_person = "natural_person"
    organisation = "organisation"


class FieldType(StrEnum):
    string = "string"
    date = "date"
    number = "number"
    enum = "enum"
    image = "image"


Name = Annotated[str, Field(min_length=1, max_length=200)]


class DepartmentIn(_Strict):
    code: str
    name: Name
    region: str
    level: Level
    parent: str | None = None

    _check_code = field_validator("code", "parent")(_code(lambda v: v if v is None else validate_uscc(v)))
    _check_region = field_validator("region")(_code(codes.validate_region_code))


class DepartmentOut(DepartmentIn):
    model_config = ConfigDict(extra="forbid", from_attributes=True)


class FaceField(_Strict):
    key: str
    label: Name
    label_en: Name | None = None  # the English label wallets show (SD-JWT VC claim metadata)
    type: FieldType
    required: bool = False
    sensitive: bool = False
    mask: MaskRule = MaskRule.none
    options: list[Annotated[str, Field(min_length=1, max_length=100)]] | None = None
    max_length: Annotated[int, Field(ge=1, le=10000)] | None = None

    _check_key = field_validator("key")(_code(lambda v: codes.validate_key(v, what="field key")))

    @model_validator(mode="after")
    def _consistent(self) -> FaceField:
        if self.type is FieldType.enum and not self.options:
            raise ValueError(f"enum field {self.key!r} needs options")
        if self.type is not FieldType.enum and self.options is not None:
            raise ValueError(f"field {self.key!r}: options are only for enum fields")
        if self.options is not None and len(set(self.options)) != len(self.options):
            raise ValueError(f"field {self.key!r}: options repeat")
        if self.max_length is not None and self.type is not FieldType.string:
            raise ValueError(f"field {self.key!r}: max_length is only for string fields")
        if self.sensitive and self.mask is MaskRule.none:
            raise ValueError(f"sensitive field {self.key!r} needs a mask rule")
        if not self.sensitive and self.mask is not MaskRule.none:
            raise ValueError(f"field {self.key!r} has a mask rule but is not sensitive")
        return self


class DataField(FaceField):
    required: Literal[False] = Field(default=False, exclude=True)


class Validity(_Strict):
    kind: Literal["permanent", "given", "years", "months", "days"]
    value: Annotated[int, Field(ge=1, le=100 * 366)] | None = None

    @model_validator(mode="after")
    def _value_when_needed(self) -> Validity:
        needs = self.kind in {"years", "months", "days"}
        if needs and self.value is None:
            raise ValueError(f"validity kind {self.kind!r} needs a value")
        if not needs and self.value is not None:
            raise ValueError(f"validity kind {self.kind!r} takes no value")
        return self


class LayoutTemplate(StrEnum):
    default = "default"
    card = "card"
    certificate = "certificate"
    proof = "proof"


def _unique_keys(fields: Sequence[FaceField], *, where: str) -> None:
    seen: set[str] = set()
    for f in fields:
        if f.key in seen:
            raise ValueError(f"{where}: field key {f.key!r} appears twice")
        seen.add(f.key)


class LicenceTypeIn(_Strict):
    code: str
    name: Name
    name_en: Name | None = None
    holder_kind: HolderKind
    issuers: list[str] = Field(min_length=1)
    fields: list[FaceField] = Field(min_length=1, max_length=200)
    validity: Validity
    dependents: list[str] = Field(default_factory=list)
    layout_template: LayoutTemplate = LayoutTemplate.default

    _check_code = field_validator("code")(_code(codes.validate_licence_type_code))

    @field_validator("issuers")
    @classmethod
    def _issuers(cls, value: list[str]) -> list[str]:
        for code in value:
            _code(validate_uscc)(code)
        if len(set(value)) != len(value):
            raise ValueError("issuers repeat")
        return value

    @field_validator("dependents")
    @classmethod
    def _dependents(cls, value: list[str]) -> list[str]:
        for code in value:
            _code(codes.validate_licence_type_code)(code)
        return value

    @model_validator(mode="after")
    def _fields_unique(self) -> LicenceTypeIn:
        _unique_keys(self.fields, where=f"licence type {self.code}")
        if self.code in self.dependents:
            raise ValueError(f"licence type {self.code} lists itself as a dependent")
        return self


class LicenceTypeOut(LicenceTypeIn):
    version: int
    is_current: bool


class Sharing(_Strict):
    attribute: Literal["unconditional", "conditional", "not_shared"]
    conditions: Annotated[str, Field(min_length=1, max_length=2000)] | None = None
    reason: Annotated[str, Field(min_length=1, max_length=2000)] | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Sharing:
        if (self.attribute == "conditional") != (self.conditions is not None):
            raise ValueError("conditional sharing needs conditions, and only it takes them")
        if (self.attribute == "not_shared") != (self.reason is not None):
            raise ValueError("not_shared needs a reason (its legal basis), and only it takes one")
        return self


class AdapterBinding(_Strict):
    kind: Literal["http", "sql", "registry"]
    name: Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.-]+$")]


class DataItemIn(_Strict):
    code: str
    name: Name
    provider: str
    abstract: Annotated[str, Field(max_length=4000)] = ""
    subject_kind: HolderKind
    fields: list[DataField] = Field(min_length=1, max_length=200)
    sharing: Sharing
    open_attribute: Literal["not_open", "conditional_open", "open"] = "not_open"
    update_cycle: Literal["realtime", "daily", "weekly", "monthly", "quarterly", "yearly"]
    adapter: AdapterBinding | None = None

    _check_code = field_validator("code")(_code(codes.validate_resource_code))
    _check_provider = field_validator("provider")(_code(validate_uscc))

    @model_validator(mode="after")
    def _fields_unique(self) -> DataItemIn:
        _unique_keys(self.fields, where=f"data item {self.code}")
        return self


DataItemOut = DataItemIn


class SatisfiedBy(_Strict):
    kind: Literal["licence_type", "data_item", "commitment", "paper"]
    code: str | None = None
    template: Annotated[str, Field(min_length=1, max_length=4000)] | None = None

    @model_validator(mode="after")
    def _consistent(self) -> SatisfiedBy:
        if self.kind == "licence_type":
            _code(codes.validate_licence_type_code)(self.code)
        elif self.kind == "data_item":
            _code(codes.validate_resource_code)(self.code)
        elif self.code is not None:
            raise ValueError(f"a {self.kind} material takes no code")
        if (self.kind == "commitment") != (self.template is not None):
            raise ValueError("a commitment material needs a template, and only it takes one")
        return self


class MaterialIn(_Strict):
    key: str
    name: Name
    required: bool = True
    satisfied_by: SatisfiedBy

    _check_key = field_validator("key")(_code(lambda v: codes.validate_key(v, what="material key")))


class SituationIn(_Strict):
    key: str
    name: Name
    materials: list[str] = Field(min_length=1)

    _check_key = field_validator("key")(_code(lambda v: codes.validate_key(v, what="situation key")))


class MatterIn(_Strict):
    code: str
    name: Name
    department: str
    materials: list[MaterialIn] = Field(min_length=1, max_length=200)
    situations: list[SituationIn] = Field(default_factory=list, max_length=100)

    _check_code = field_validator("code")(_code(codes.validate_matter_code))
    _check_department = field_validator("department")(_code(validate_uscc))

    @model_validator(mode="after")
    def _references_inside(self) -> MatterIn:
        keys = [m.key for m in self.materials]
        if len(set(keys)) != len(keys):
            raise ValueError(f"matter {self.code}: material keys repeat")
        situation_keys = [s.key for s in self.situations]
        if len(set(situation_keys)) != len(situation_keys):
            raise ValueError(f"matter {self.code}: situation keys repeat")
        for situation in self.situations:
            for key in situation.materials:
                if key not in keys:
                    raise ValueError(
                        f"matter {self.code}: situation {situation.key!r} names unknown material {key!r}"
                    )
        return self


MatterOut = MatterIn


class CatalogDocument(_Strict):
    """The whole catalog, as loaded from or exported to YAML."""

    version: Literal[1] = 1
    departments: list[DepartmentIn] = Field(default_factory=list)
    licence_types: list[LicenceTypeIn] = Field(default_factory=list)
    data_items: list[DataItemIn] = Field(default_factory=list)
    matters: list[MatterIn] = Field(default_factory=list)


_CLAIM_NAME = r"^[A-Za-z_][A-Za-z0-9_]{0,63}$"
ClaimName = Annotated[str, Field(pattern=_CLAIM_NAME)]


class RelyingPartyIn(_Strict):
    """A relying party's registration: who it is, why it asks, and the most it may ask for
    ({licence type code: [claim name, ...]}, claim names as the SD-JWT VC names them)."""

    client_id: Annotated[str, Field(min_length=1, max_length=64)]
    name: Name
    purpose: Annotated[str, Field(min_length=1, max_length=200)]
    allowed: Annotated[dict[str, Annotated[list[ClaimName], Field(min_length=1, max_length=64)]],
                       Field(min_length=1, max_length=20)]

    @field_validator("allowed")
    @classmethod
    def _type_codes(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        for type_code in value:
            _code(codes.validate_licence_type_code)(type_code)
        return {code: sorted(set(names)) for code, names in value.items()}


class RelyingPartyOut(RelyingPartyIn):
    model_config = ConfigDict(extra="forbid", from_attributes=True)
    department_code: str
