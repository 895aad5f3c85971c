"""LoRA / QLoRA / DoRA training of per-team adapters. No Django here (see DESIGN.md)."""
