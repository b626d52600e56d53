"""Flash and RAM budgets of a firmware image, measured from the linked image itself.

``arm-none-eabi-size -A IMAGE`` gives every section's size. Flash holds what the image stores
(code, constants and the model, the unwinding index, and .data's initial values); RAM holds the
reserved stack, .data and .bss (the arenas and the detector's memory are static: they are in
.bss). The worst-case stack depth (stack.py) must fit the stack the linker script reserves.

``check_budgets`` raises a UserError naming what is over and by how many bytes; ``check_models_fit``
says the same of a model too large for the flash budget before anything is linked, so the
linker never gets to overflow a region.
"""

from __future__ import annotations

import dataclasses
import subprocess
from pathlib import Path

from ..errors import UserError
from .stack import StackReport

SIZE_TOOL = "arm-none-eabi-size"
FLASH_SECTIONS = (".text", ".rodata", ".ARM.exidx", ".data")
RAM_SECTIONS = (".stack", ".data", ".bss")
# The example board, QEMU's mps2-an386 (cengine/examples/firmware/mps2_an386.ld): 4 MiB of
# ZBT SSRAM1 holds the image (its "flash"), 4 MiB of ZBT SSRAM2/3 is the RAM.
BOARD_FLASH = 4 << 20
BOARD_RAM = 4 << 20


@dataclasses.dataclass(frozen=True)
class Budget:
    flash: int = BOARD_FLASH  # bytes
    ram: int = BOARD_RAM


@dataclasses.dataclass(frozen=True)
class ImageSizes:
    sections: dict            # section name -> bytes (allocated sections only)

    @property
    def flash(self) -> int:
        return sum(self.sections.get(name, 0) for name in FLASH_SECTIONS)

    @property
    def ram(self) -> int:
        return sum(self.sections.get(name, 0) for name in RAM_SECTIONS)

    def as_json(self) -> dict:
        return {"sections": {name: self.sections[name] for name in sorted(self.sections)},
                "flash_bytes": self.flash, "ram_bytes": self.ram}


def image_sizes(image: Path, size_tool: str = SIZE_TOOL) -> ImageSizes:
    """Every allocated section's size, from `size -A` (debug sections and the like left out)."""
    proc = subprocess.run([size_tool, "-A", str(image)], capture_output=True, text=True)
    if proc.returncode != 0:
        raise UserError(f"{size_tool} could not read the image ({proc.stderr.strip()})", image,
                        "build the image first")
    sections = {}
    for line in proc.stdout.splitlines():
        fields = line.split()
        if len(fields) == 3 and fields[0].startswith(".") and fields[1].isdigit():
            name, size = fields[0], int(fields[1])
            if name in FLASH_SECTIONS or name in RAM_SECTIONS:
                sections[name] = size
    if ".text" not in sections:
        raise UserError("the image has no .text section", image,
                        "link it with cengine/examples/firmware/mps2_an386.ld")
    return ImageSizes(sections)


def _over(what: str, used: int, budget: int, sections: dict, names: tuple[str, ...],
          fix: str) -> str | None:
    if used <= budget:
        return None
    parts = ", ".join(f"{n} {sections[n]}" for n in names if sections.get(n))
    return f"{what} {used} bytes ({parts}) is {used - budget} bytes over the budget of {budget} (fix: {fix})"


def check_budgets(image: Path, budget: Budget, stack: StackReport | None = None,
                  size_tool: str = SIZE_TOOL) -> ImageSizes:
    """The image's sizes, or a UserError naming each budget it exceeds and by how much: flash,
    RAM, and the worst-case stack depth against the stack the image reserves. Recursion (an
    unbounded depth) fails too."""
    sizes = image_sizes(image, size_tool)
    problems = [
        _over("flash:", sizes.flash, budget.flash, sizes.sections, FLASH_SECTIONS,
              "a smaller model, or a larger flash_budget= for a board that has it"),
        _over("RAM:", sizes.ram, budget.ram, sizes.sections, RAM_SECTIONS,
              "fewer sessions, a smaller model or stack, or a larger ram_budget= for a board that "
              "has it"),
    ]
    if stack is not None:
        reserved = sizes.sections.get(".stack", 0)
        if stack.recursion:
            cycle = " -> ".join(stack.recursion[0])
            problems.append(f"stack: recursion makes the depth unbounded ({cycle})")
        elif stack.worst > reserved:
            problems.append(
                f"stack: the worst-case call chain needs {stack.worst} bytes, .stack reserves "
                f"{reserved}: {stack.worst - reserved} bytes over (fix: link with "
                f"-Wl,--defsym=STACK_SIZE={-(-stack.worst // 8) * 8}); the chain: "
                + " -> ".join(name.rsplit(":", 1)[-1] for name in stack.chain))
    problems = [p for p in problems if p]
    if problems:
        raise UserError("; ".join(problems), image, None)
    return sizes


def check_models_fit(onnx_files: list[Path], budget: Budget) -> None:
    """Before linking: the models' bytes alone must fit the flash budget (the weights stay in
    flash), so a model too large stops here with its name, not in the linker."""
    total = sum(Path(f).stat().st_size for f in onnx_files)
    if total > budget.flash:
        largest = max(onnx_files, key=lambda f: Path(f).stat().st_size)
        raise UserError(
            f"the models take {total} bytes, more than the flash budget of {budget.flash} "
            f"({Path(largest).name}: {Path(largest).stat().st_size} bytes)", largest,
            "DeepLog alone, or a smaller MSCRED (mscred-train --channels, fewer templates), or a "
            "larger flash_budget= for a board that has it")
