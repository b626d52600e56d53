"""Worst-case stack depth of a firmware image: each function's frame from gcc's -fstack-usage,
summed along the deepest call chain of gcc's call graph (-fcallgraph-info=su).

Compile every source of the image with ``-fstack-usage -fcallgraph-info=su``: beside each object
gcc writes ``X.su`` (the frame of each function) and ``X.ci`` (the same frames with the calls,
in VCG text). The graph of all the ``.ci`` files is completed with:

* indirect calls: gcc's graph shows that a function calls through a pointer (its
  ``__indirect_call`` node), not which functions the pointer can hold. ``INDIRECT_CALLS`` says it
  for each function of the engine that makes one, by the kind of pointer; an indirect call in a
  function it does not list stops the analysis, naming the function, so that a new one is
  never guessed at. Which functions have their address taken, and where, comes from the
  objects' relocations (a data or address relocation against a function, as opposed to a call);
* code gcc did not compile here (the C library and libgcc's helpers: memcpy, strtol,
  __aeabi_dmul, ...): frames and calls read from the linked image's disassembly (each ``push``,
  ``vpush`` and ``sub sp`` of the function, each ``bl`` or tail branch to another function).

Only functions that are in the linked image count (the linker dropped the rest).

The depth is the deepest chain from the entry point (``Reset_Handler``), plus a fault taken at
that point: the exception frame the core pushes (with the FPU's registers) and the deepest of the
fault handlers. Recursion makes the depth unbounded: it is reported, with the functions on the
cycle, and never summed.
"""

from __future__ import annotations

import dataclasses
import re
import subprocess
from collections import defaultdict
from pathlib import Path

from ..errors import UserError

ENTRY = "Reset_Handler"
# What runs on top of any point of main's stack: startup.c's fault handlers (HardFault_Handler
# itself is naked: it branches to hard_fault_report without a frame).
FAULT_HANDLERS = ("hard_fault_report", "Default_Handler")
# Exception entry on a Cortex-M4F with the FPU in use: r0-r3, r12, lr, pc, xPSR, s0-s15, FPSCR
# and a reserved word (26 words), plus up to 4 bytes to align the frame to 8.
EXCEPTION_FRAME = 26 * 4 + 4
INDIRECT = "__indirect_call"
OBJDUMP = "arm-none-eabi-objdump"
READELF = "arm-none-eabi-readelf"


@dataclasses.dataclass(frozen=True)
class StackReport:
    worst: int                          # bytes: the deepest chain plus a fault on top of it
    chain: tuple[str, ...]              # that chain, entry point first (then the fault handler)
    frames: dict                        # bytes of each function on the chain
    recursion: tuple[tuple[str, ...], ...]  # call cycles (unbounded depth), each as its functions
    dynamic: tuple[str, ...]            # functions with a frame gcc could not bound (alloca, VLA)

    def as_json(self) -> dict:
        return {"worst_case_bytes": self.worst, "chain": list(self.chain),
                "frames": {name: self.frames[name] for name in self.chain},
                "recursion": [list(cycle) for cycle in self.recursion],
                "dynamic": list(self.dynamic)}


# ---- gcc's call graph ---------------------------------------------------------------------------

_NODE = re.compile(r'node: \{ title: "([^"]+)" label: "([^"]*)"')
_EDGE = re.compile(r'edge: \{ sourcename: "([^"]+)" targetname: "([^"]+)"')
_FRAME = re.compile(r"\\n(\d+) bytes \(([a-z,]+)\)")


class _Graph:
    def __init__(self):
        self.frames: dict[str, int] = {}        # functions compiled here: frame bytes
        self.dynamic: set[str] = set()
        self.calls: dict[str, set[str]] = defaultdict(set)
        self.local: dict[tuple[str, str], str] = {}  # (source file, static name) -> title

    def read_ci(self, path: Path) -> None:
        text = path.read_text(encoding="utf-8", errors="replace")
        for title, label in _NODE.findall(text):
            frame = _FRAME.search(label)
            if frame:
                self.frames[title] = int(frame.group(1))
                if frame.group(2) != "static":
                    self.dynamic.add(title)
                if ":" in title:  # a static function: "<source file>:<name>"
                    source, name = title.rsplit(":", 1)
                    self.local[(source, name)] = title
        for source, target in _EDGE.findall(text):
            self.calls[source].add(target)


def _source_of(ci_path: Path) -> str:
    """The source file a .ci file describes (its graph title)."""
    head = ci_path.read_text(encoding="utf-8", errors="replace")[:4096]
    found = re.search(r'graph: \{ title: "([^"]+)"', head)
    return found.group(1) if found else ""


# ---- indirect calls ----------------------------------------------------------------------------

# The pointer kinds the engine calls through, and who calls through each (by function name; a
# static function's or a gcc clone's name without its file or ".part.0" suffix):
OPERATOR = "operator"        # alog_op.prepare / .run: the functions of the operator tables
PASSED_DOWN = "passed down"  # an argument: a function whose address the caller, or a function
                             # above it in the direct calls, takes (kernels, array functions,
                             # the MSCRED bucket callback)
VERDICT = "verdict"          # the application's verdict callback (alog_verdict_fn)
FLUSH = "flush"              # the application's sink flush (alog_sink.flush)
INDIRECT_CALLS = {
    "alog_plan": OPERATOR,            # node->op->prepare
    "alog_model_run": OPERATOR,       # node->op->run
    "alog_binary_run": PASSED_DOWN,   # the element-wise kernel of Add, Sub, Mul, Div
    "alog_unary_array_run": PASSED_DOWN,  # Sigmoid's, Tanh's array function
    "alog_conv_run": PASSED_DOWN,     # the Conv or ConvTranspose reference kernel
    "each_block": PASSED_DOWN,        # alog_math.c: the block form of exp/tanh/sigmoid
    "dot_group": PASSED_DOWN,         # panel.c (packed weights; not in a reference build)
    "close_open_bucket": PASSED_DOWN, # the detector's "signature ready" callback
    "judge": VERDICT,                 # DeepLog's verdict
    "judge_deeplog": VERDICT,         # the same, where the compiler keeps it a function
    "close_slot": VERDICT,            # a closing session's END verdict (docs/detection.md 2.2)
    "deliver": VERDICT,               # a verdict given at once, or held behind a batch (--batch)
    "flush_held": VERDICT,            # the verdicts held behind a batch, in order
    "on_mscred_input": VERDICT,       # MSCRED's verdict
    "alog_sink_flush": FLUSH,         # the sink's output
    "alog_meta_parse": PASSED_DOWN,   # modeldir.c (alog-engine's model directory only)
}
# The example's callbacks (cengine/examples/firmware/main.c); an application passes its own.
EXAMPLE_CALLBACKS = {VERDICT: ("on_verdict",), FLUSH: ("write_out",)}
OPERATOR_TABLE = ".rodata.alog_op_"  # the section of each operator's registry row

_CALL_RELOCATIONS = ("R_ARM_THM_CALL", "R_ARM_THM_JUMP24", "R_ARM_THM_JUMP19", "R_ARM_CALL",
                     "R_ARM_JUMP24")
_RELOCATION_SECTION = re.compile(r"^Relocation section '\.rel(?:a)?([^']*)'")


def bare_name(title: str) -> str:
    """"src/detect/detector.c:judge" -> "judge", "prepare.part.0" -> "prepare"."""
    return title.rsplit(":", 1)[-1].split(".")[0]


def _address_takers(graph: _Graph, objects: list[Path], sources: dict[Path, str],
                    readelf: str) -> dict[str, set[str]]:
    """Function -> where its address is taken other than by a call: the title of the function
    whose code takes it, or the data section that holds it (an operator table)."""
    takers: dict[str, set[str]] = defaultdict(set)
    for obj in objects:
        out = subprocess.run([readelf, "-rW", str(obj)], capture_output=True, text=True, check=True)
        section = ""
        for line in out.stdout.splitlines():
            header = _RELOCATION_SECTION.match(line)
            if header:
                section = header.group(1)
                continue
            fields = line.split()
            if len(fields) < 5 or not fields[2].startswith("R_ARM_") or fields[2] in _CALL_RELOCATIONS:
                continue
            source = sources.get(obj, "")
            target = graph.local.get((source, fields[4]), fields[4])
            if target not in graph.frames:
                continue  # not a function
            if section.startswith(".text."):  # -ffunction-sections: .text.<function>
                name = section[len(".text."):]
                takers[target].add(graph.local.get((source, name), name))
            else:
                takers[target].add(section)
    return takers


def _linked_functions(image: Path, readelf: str) -> set:
    """The functions in the image: a global by its name, a static one as (file name, name) (the
    symbol table lists each object's FILE symbol before its local symbols)."""
    out = subprocess.run([readelf, "-sW", str(image)], capture_output=True, text=True, check=True)
    found: set = set()
    current_file = ""
    for line in out.stdout.splitlines():
        fields = line.split()
        if len(fields) < 8:
            continue
        kind, binding, name = fields[3], fields[4], fields[7]
        if kind == "FILE":
            current_file = name
        elif kind == "FUNC":
            found.add(name if binding != "LOCAL" else (current_file, name))
    return found


# ---- code gcc did not compile here: read from the linked image ---------------------------------

_FUNCTION = re.compile(r"^[0-9a-f]+ <([^>]+)>:$")
_REGISTERS = re.compile(r"\{([^}]*)\}")
_SUB_SP = re.compile(r"^sub(?:w|\.w)?\s+sp,\s*(?:sp,\s*)?#(\d+)")
_BRANCH = re.compile(r"^(bl|b\.w|b\.n|b)\s+[0-9a-f]+ <([^>+]+)>")


def _register_count(operands: str) -> int:
    count = 0
    for part in _REGISTERS.search(operands).group(1).split(","):
        part = part.strip()
        if "-" in part:  # a range, d8-d15
            first, last = (int(re.sub(r"\D", "", r)) for r in part.split("-"))
            count += (last - first + 1) * (2 if part.startswith("d") else 1)
        else:
            count += 2 if part.startswith("d") else 1
    return count


def _image_functions(image: Path, objdump: str) -> tuple[dict[str, int], dict[str, set[str]]]:
    """Every function of the image: the bytes its pushes and stack adjustments take (summed over
    the whole function: an upper bound) and the functions it calls or branches to."""
    out = subprocess.run([objdump, "-d", "--no-show-raw-insn", str(image)], capture_output=True,
                         text=True, check=True).stdout
    frames: dict[str, int] = {}
    calls: dict[str, set[str]] = defaultdict(set)
    current = None
    for line in out.splitlines():
        head = _FUNCTION.match(line)
        if head:
            current = head.group(1)
            frames[current] = 0
            continue
        if current is None or ":\t" not in line:
            continue
        instruction = line.split(":\t", 1)[1].strip()
        if instruction.startswith(("push", "stmdb\tsp!", "stmdb sp!")):
            frames[current] += 4 * _register_count(instruction)
        elif instruction.startswith("vpush"):
            frames[current] += 4 * _register_count(instruction)
        elif _SUB_SP.match(instruction):
            frames[current] += int(_SUB_SP.match(instruction).group(1))
        branch = _BRANCH.match(instruction)
        if branch and branch.group(2) != current:
            calls[current].add(branch.group(2))
    return frames, calls


# ---- the deepest chain ---------------------------------------------------------------------------

def analyse(objects: list[Path], image: Path, *, entry: str = ENTRY,
            fault_handlers: tuple[str, ...] = FAULT_HANDLERS,
            callbacks: dict | None = None, objdump: str = OBJDUMP,
            readelf: str = READELF) -> StackReport:
    """The worst-case stack depth of `image`, linked from `objects` (those of the libraries
    included), each compiled with -fstack-usage -fcallgraph-info=su (its X.ci beside X.o).
    `callbacks`: the application's verdict callbacks and sink flushes by name (VERDICT, FLUSH:
    default, the example's)."""
    callbacks = EXAMPLE_CALLBACKS if callbacks is None else callbacks
    graph = _Graph()
    sources = {}
    for obj in map(Path, objects):
        ci = obj.with_suffix(".ci")
        if not ci.is_file():
            raise UserError(f"no call graph {ci.name} beside the object", obj,
                            "compile every source of the image with -fstack-usage "
                            "-fcallgraph-info=su")
        graph.read_ci(ci)
        sources[obj] = _source_of(ci)
    if entry not in graph.frames:
        raise UserError(f"no call graph for the entry point {entry}", image,
                        "compile every source with -fstack-usage -fcallgraph-info=su")
    image_frames, image_calls = _image_functions(image, objdump)
    in_image = _linked_functions(image, readelf)
    linked = {title for title in graph.frames
              if (title.rsplit(":", 1)[-1] if ":" not in title else
                  (Path(title.rsplit(":", 1)[0]).name, title.rsplit(":", 1)[1])) in in_image}
    takers = _address_takers(graph, list(map(Path, objects)), sources, readelf)
    callers: dict[str, set[str]] = defaultdict(set)
    for caller, targets in graph.calls.items():
        for target in targets:
            callers[target].add(caller)

    def above(name: str) -> set[str]:
        """name and every function that reaches it through direct calls."""
        seen, pending = set(), [name]
        while pending:
            current = pending.pop()
            if current not in seen:
                seen.add(current)
                pending.extend(callers.get(current, ()))
        return seen

    def indirect_targets(caller: str) -> set[str]:
        kind = INDIRECT_CALLS.get(bare_name(caller))
        if kind is None:
            raise UserError(f"{caller} calls through a pointer that the stack analysis cannot "
                            "follow", image, "add the function and its kind of pointer to "
                            "INDIRECT_CALLS in alog_detect/firmware/stack.py")
        if kind == OPERATOR:
            found = {f for f, where in takers.items() if any(w.startswith(OPERATOR_TABLE) for w in where)}
        elif kind == PASSED_DOWN:
            chain = above(caller)
            found = {f for f, where in takers.items() if where & chain}
        else:
            names = set(callbacks.get(kind, ()))
            found = {f for f in graph.frames if bare_name(f) in names}
        return found & linked

    def frame(name: str) -> int:
        return graph.frames[name] if name in graph.frames else image_frames.get(name, 0)

    def callees(name: str) -> set[str]:
        if name in graph.frames:
            targets = set()
            for target in graph.calls.get(name, ()):
                targets |= indirect_targets(name) if target == INDIRECT else {target}
            return targets
        return image_calls.get(name, set())

    depth: dict[str, tuple[int, tuple[str, ...]]] = {}
    cycles: list[tuple[str, ...]] = []
    on_path: list[str] = []

    def deepest(name: str) -> tuple[int, tuple[str, ...]]:
        if name in depth:
            return depth[name]
        if name in on_path:
            cycle = tuple(on_path[on_path.index(name):])
            if cycle not in cycles:
                cycles.append(cycle)
            return 0, ()
        on_path.append(name)
        below = max((deepest(callee) for callee in sorted(callees(name))), default=(0, ()))
        on_path.pop()
        depth[name] = (frame(name) + below[0], (name,) + below[1])
        return depth[name]

    main_bytes, main_chain = deepest(entry)
    fault_bytes, fault_chain = max((deepest(h) for h in fault_handlers if frame(h) or h in graph.frames),
                                   default=(0, ()))
    chain = main_chain + fault_chain
    return StackReport(
        worst=main_bytes + EXCEPTION_FRAME + fault_bytes,
        chain=chain,
        frames={name: frame(name) for name in chain},
        recursion=tuple(cycles),
        dynamic=tuple(sorted(graph.dynamic & set(depth))))
