"""The feature catalog: what every panel column means and whether a model may use it."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from features.errors import CatalogError, RootcastError

Domain = Literal[
    "socio-economic",
    "governance",
    "demography",
    "geography",
    "service access",
    "conflict history",
]

DEFAULT_CATALOG = Path(__file__).parent / "catalogs" / "synthetic.toml"


class FeatureSpec(BaseModel):
    """One covariate of the panel, as described in the catalog.

    `missing`: "refused" (the default) means every value of a model feature must be a finite
    number; "allowed" accepts empty cells (NaN) where the feature is not measured, e.g. a
    census that exists for one country of a transnational panel only. Infinite and
    non-numeric values stay refused. xgboost learns a direction for missing values; the
    logistic baseline imputes the median and adds a was-missing indicator. Protected columns
    may always be NaN (they are never model inputs), and conflict-history features are
    derived from incidents, which are never missing: neither may say "allowed".
    `label`: how reports name the feature (e.g. "Youth unemployment"); `unit` goes beside it.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    domain: Domain
    label: str = ""  # the plain name reports show; empty: the column name with spaces
    actionable: bool = False
    programs: list[str] = Field(default_factory=list)
    unit: str = ""
    source: str = ""
    description: str = ""
    protected: bool = False
    missing: Literal["refused", "allowed"] = "refused"

    @model_validator(mode="after")
    def _missing_only_for_covariates(self) -> FeatureSpec:
        if self.missing == "allowed" and self.protected:
            raise ValueError(
                'missing = "allowed" is for model features; a protected column may hold NaN '
                "already (it is never a model input): remove `missing`"
            )
        if self.missing == "allowed" and self.domain == "conflict history":
            raise ValueError(
                'missing = "allowed" is not possible for a conflict-history feature: '
                "history is derived from incidents, which are never missing"
            )
        return self


class FeatureCatalog(BaseModel):
    """All declared features by column name; derived conflict-history features are added."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    features: dict[str, FeatureSpec]

    @property
    def model_features(self) -> list[str]:
        """Declared columns a model may use: everything not protected, in catalog order."""
        return [name for name, spec in self.features.items() if not spec.protected]

    @property
    def missing_allowed(self) -> list[str]:
        """Model features that may be NaN (catalog `missing = "allowed"`), in catalog order."""
        return [
            name
            for name, spec in self.features.items()
            if spec.missing == "allowed" and not spec.protected
        ]

    @property
    def protected_features(self) -> list[str]:
        """Columns used only for the disparity audit, never as model inputs."""
        return [name for name, spec in self.features.items() if spec.protected]

    def with_features(self, extra: dict[str, FeatureSpec]) -> FeatureCatalog:
        """A copy with `extra` (e.g. derived history features) added; clashes are an error."""
        clash = sorted(set(extra) & set(self.features))
        if clash:
            raise CatalogError(
                f"catalog declares {clash}, names reserved for derived features; rename them"
            )
        return FeatureCatalog(features={**self.features, **extra})


def parse_catalog(data: dict, source: str = "<catalog>") -> FeatureCatalog:
    """Validate a parsed TOML mapping `{features: {name: {...}}}` into a catalog."""
    try:
        catalog = FeatureCatalog.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise CatalogError(
            f"{source}: {where}: {first['msg'].removeprefix('Value error, ')}"
        ) from None
    if not catalog.features:
        raise CatalogError(f"{source}: declares no features")
    return catalog


def read_toml(path: Path, what: str, error: type[RootcastError]) -> dict:
    """Parse a TOML file; every way it can be unreadable raises `error` naming the file:
    missing, a folder, unreadable, not UTF-8 text or not valid TOML."""
    if path.is_dir():
        raise error(f"{path}: is a folder, not a {what} file")
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise error(f"{path}: {what} file not found") from None
    except UnicodeDecodeError as exc:
        raise error(
            f"{path}: not UTF-8 text (byte {exc.object[exc.start]:#04x} at offset {exc.start}); "
            "save the file as UTF-8"
        ) from None
    except OSError as exc:
        raise error(f"{path}: cannot read the {what} file ({exc.strerror or exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise error(f"{path}: not valid TOML ({exc})") from None
    except RecursionError:
        raise error(f"{path}: not valid TOML (nested too deeply)") from None


def load_catalog(path: str | Path | None = None) -> FeatureCatalog:
    """Read a catalog TOML file (the shipped synthetic catalog when `path` is None)."""
    path = Path(path) if path else DEFAULT_CATALOG
    return parse_catalog(read_toml(path, "catalog", CatalogError), source=str(path))
