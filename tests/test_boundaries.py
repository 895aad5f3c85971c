"""DESIGN.md's import boundaries, enforced on the source tree."""
import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _imports(package: str) -> dict[Path, set[str]]:
    found: dict[Path, set[str]] = {}
    for path in (ROOT / package).rglob("*.py"):
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module)
        found[path] = names
    return found


def _top_level_imports(path: Path) -> set[str]:
    """Imports executed when the module loads (not those inside functions)."""
    names: set[str] = set()
    tree = ast.parse(path.read_text(), str(path))
    for node in tree.body:
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _offenders(package: str, forbidden: tuple[str, ...]) -> list[str]:
    return [
        f"{path.relative_to(ROOT)} imports {name}"
        for path, names in _imports(package).items()
        for name in names
        if name.split(".")[0] in forbidden or name in forbidden
    ]


def test_it_keeps_training_free_of_django_docsbot_and_serving():
    assert _offenders("training", ("django", "docsbot", "serving")) == []


def test_it_keeps_serving_free_of_django_docsbot_and_training():
    assert _offenders("serving", ("django", "docsbot", "training")) == []


def test_it_lets_docsbot_use_only_the_serving_client_and_protocol():
    allowed = {"serving", "serving.client", "serving.protocol"}
    bad = [
        f"{path.relative_to(ROOT)} imports {name}"
        for path, names in _imports("docsbot").items()
        for name in names
        if name.split(".")[0] == "serving" and name not in allowed
    ]
    assert bad == []


# training's torch-free modules (validated config, the base model's location and checks, CPU features, the
# significance tests of the gate and of A/B experiments):
# docsbot may read them anywhere, inside functions, as they load nothing heavy.
TORCH_FREE_TRAINING = {"training.config", "training.packaged_model", "training.hardware", "training.stats",
                       "training.text_metrics"}
HEAVY = {"torch", "transformers", "peft", "sentence_transformers", "safetensors", "numpy"}


def test_it_keeps_the_torch_free_training_modules_free_of_torch():
    for name in TORCH_FREE_TRAINING:
        path = ROOT / (name.replace(".", "/") + ".py")
        assert not {n.split(".")[0] for n in _top_level_imports(path)} & (HEAVY | {"training"}), name


def test_it_imports_training_only_inside_functions_of_the_training_task():
    """Web processes never load torch: no module-level import of training or torch in docsbot,
    and training is imported only from the adapters app's task/runner modules (its torch-free
    modules excepted)."""
    module_level = [
        f"{path.relative_to(ROOT)} imports {name} at module level"
        for path in (ROOT / "docsbot").rglob("*.py")
        for name in _top_level_imports(path)
        if name.split(".")[0] in {"training", "torch", "transformers", "peft", "sentence_transformers"}
    ]
    assert module_level == []
    anywhere = [
        f"{path.relative_to(ROOT)} imports {name}"
        for path, names in _imports("docsbot").items()
        for name in names
        if name.split(".")[0] == "training" and name not in TORCH_FREE_TRAINING
        and "adapters" not in path.relative_to(ROOT).parts and "management" not in path.relative_to(ROOT).parts
    ]
    assert anywhere == []


def test_it_keeps_the_architecture_map_true_to_the_tree():
    """Every module (``app/module.py``) and function (``app/module.name``) docs/architecture.md names
    exists, and every app of docsbot is on it."""
    import re

    text = (ROOT / "docs" / "architecture.md").read_text()
    apps = {p.parent.name for p in (ROOT / "docsbot").glob("*/apps.py")}
    missing = []
    for ref in set(re.findall(r"`([a-z_]+(?:/[a-z_]+)+\.py|[a-z_]+/[a-z_]+\.[A-Za-z_]+)`", text)):
        module, _, name = ref.partition(".py") if ref.endswith(".py") else ref.rpartition(".")
        first = module.split("/")[0]
        path = (ROOT / "docsbot" / module if first in apps else ROOT / module).with_suffix(".py")
        if not path.is_file() or name and not re.search(rf"^(def|class) {name}\b", path.read_text(), re.MULTILINE):
            missing.append(ref)
    assert missing == []
    assert [app for app in sorted(apps) if f"`{app}`" not in text] == []
