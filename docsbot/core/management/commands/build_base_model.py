"""``manage.py build_base_model --tiny --corpus PATH``: the offline base model, built once."""
from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from docsbot.core.serving import base_model_path


class Command(BaseCommand):
    help = "Build the small local base model (tokenizer + pre-trained tiny Llama) under DATA_DIR/models."

    def add_arguments(self, parser):
        parser.add_argument("--tiny", action="store_true", required=True,
                            help="build the tiny offline model (the only kind this command builds)")
        parser.add_argument("--corpus", nargs="+", type=Path, required=True,
                            help="documentation files or folders (.md .rst .txt .html .py, .tar.gz) to learn from")
        parser.add_argument("--steps", type=int, default=150, help="pre-training steps (default 150)")
        parser.add_argument("--time-budget", type=float, default=240.0,
                            help="stop pre-training after this many seconds (default 240)")
        parser.add_argument("--output", type=Path, default=None,
                            help="where to write it (default: DATA_DIR/models/tiny-base)")
        parser.add_argument("--force", action="store_true", help="rebuild even if it exists")

    def handle(self, *args, corpus: list[Path], steps: int, time_budget: float, output: Path | None,
               force: bool, **options):
        from training.base_model import build_base_model

        target = Path(output or base_model_path())
        if (target / "config.json").exists() and not force:
            self.stdout.write(f"base model already built at {target} (use --force to rebuild)")
            return
        missing = [str(p) for p in corpus if not p.exists()]
        if missing:
            raise CommandError(f"corpus path not found: {', '.join(missing)}")
        if steps < 0 or time_budget <= 0:
            raise CommandError("--steps must be >= 0 and --time-budget > 0")
        started = time.monotonic()
        every = max(1, steps // 20)

        def progress(step: int, total: int, loss: float) -> None:
            if step == 1 or step % every == 0:
                self.stdout.write(f"  step {step}/{total}  loss {loss:.3f}  {time.monotonic() - started:.0f}s")
                self.stdout.flush()

        self.stdout.write(f"building the tiny base model from {', '.join(map(str, corpus))} "
                          f"({steps} steps, at most {time_budget:.0f}s of pre-training)")
        staging = target.with_name(target.name + ".building")
        shutil.rmtree(staging, ignore_errors=True)
        try:
            build_base_model(staging, corpus, size="tiny", pretrain_steps=steps, time_budget_s=time_budget,
                             progress=progress)
        except ValueError as exc:
            shutil.rmtree(staging, ignore_errors=True)
            raise CommandError(str(exc)) from None
        if target.exists():
            shutil.rmtree(target)
        staging.rename(target)  # a half-built model never looks built
        record = json.loads((target / "docsbot_base.json").read_text())
        self.stdout.write(self.style.SUCCESS(
            f"base model written to {target}: {record['pretrain_steps']} steps, final loss "
            f"{record['final_loss']:.3f}, {record['documents']} documents, {time.monotonic() - started:.0f}s"
            if record["final_loss"] is not None else f"base model written to {target} (no pre-training)"))
