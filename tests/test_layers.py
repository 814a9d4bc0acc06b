"""The import contracts in pyproject.toml name every module of the service, so a new module is covered."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SERVICE = ROOT / "service"


def contracts() -> dict[str, dict[str, object]]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    return {c["name"]: c for c in config["contracts"]}


def top_level_modules() -> set[str]:
    names = {f"service.{p.stem}" for p in SERVICE.glob("*.py") if p.stem != "__init__"}
    return names | {f"service.{p.name}" for p in SERVICE.iterdir() if (p / "__init__.py").exists()}


def test_the_engine_contract_forbids_every_other_module() -> None:
    engine = contracts()["The engine is pure: it imports nothing from the service"]
    assert set(engine["forbidden_modules"]) == top_level_modules() - {"service.engine"}  # type: ignore[arg-type]


def test_the_store_contract_forbids_all_but_models_errors_and_search() -> None:
    store = contracts()["The store imports only models, errors and the search syntax tree"]
    sources = set(store["source_modules"])  # type: ignore[arg-type]
    allowed = {"service.models", "service.errors", "service.search"}
    assert set(store["forbidden_modules"]) == top_level_modules() - sources - allowed  # type: ignore[arg-type]


def test_every_dialect_is_in_the_independence_contract() -> None:
    dialects = {f"service.dialects.{p.stem}" for p in (SERVICE / "dialects").glob("*.py")}
    dialects |= {f"service.dialects.{p.name}" for p in (SERVICE / "dialects").iterdir() if (p / "__init__.py").exists()}
    independent = set(contracts()["No dialect imports another dialect"]["modules"])  # type: ignore[arg-type]
    assert independent == dialects - {"service.dialects.__init__", "service.dialects.common"}
