"""Generate and build RISC-V ELF files of growing DWARF size for the decoder benchmark.

Each unit holds `per_unit` functions that call `static inline` helpers (so the DWARF has inlined
subroutines, several per function), built with riscv64-unknown-elf-gcc -O2 -g for rv32imc, freestanding.
"""

from __future__ import annotations

import random
import shutil
import subprocess
from pathlib import Path

GCC = "riscv64-unknown-elf-gcc"
CFLAGS = ["-march=rv32imc", "-mabi=ilp32", "-O2", "-g", "-ffreestanding", "-fno-common",
          "-ffunction-sections"]
LDFLAGS = ["-nostdlib", "-Wl,--gc-sections", "-Wl,-e,_start", "-Wl,-Ttext=0x42000020"]

HEADER = """\
static inline int mix_{u}(int a, int b) {{ return (a * 31) ^ (b >> 3); }}
static inline int step_{u}(int a, int i) {{
    int s = 0;
    for (int k = 0; k < (i & 7) + 2; k++) s += mix_{u}(a + k, s);
    return s;
}}
static inline int clampv_{u}(int v) {{ return v < 0 ? -v : (v > 100000 ? v / 3 : v); }}
"""
FUNC = """\
int f_{u}_{i}(int x, volatile int *out) {{
    int acc = x;
    for (int i = 0; i < {n}; i++) {{
        acc = step_{u}(acc, i) + clampv_{u}(acc - i);
        if (acc & {bit}) out[i & 3] = mix_{u}(acc, i);
    }}
    return acc + {c};
}}
"""


def available() -> bool:
    return shutil.which(GCC) is not None


def generate(folder: Path, n_funcs: int, per_unit: int = 250, seed: int = 1) -> Path:
    """Write the sources and build `app.elf` in `folder`; return the ELF path."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    objs = []
    calls = []
    n_units = max(1, n_funcs // per_unit)
    for u in range(n_units):
        src = folder / f"unit{u}.c"
        parts = [HEADER.format(u=u)]
        for i in range(per_unit):
            parts.append(FUNC.format(u=u, i=i, n=rng.randint(3, 9), bit=1 << rng.randint(0, 6),
                                     c=rng.randint(0, 999)))
            calls.append(f"f_{u}_{i}")
        src.write_text("\n".join(parts))
        objs.append(src)
    main = folder / "main.c"
    decls = "\n".join(f"int {c}(int, volatile int *);" for c in calls)
    body = "\n".join(f"    acc += {c}(acc, sink);" for c in calls)
    main.write_text(f"{decls}\nvolatile int sink[4];\nvoid _start(void) {{\n    int acc = 1;\n{body}\n"
                    "    sink[0] = acc;\n    for (;;) {}\n}\n")
    elf = folder / "app.elf"
    procs = []
    for src in [*objs, main]:
        procs.append(subprocess.Popen([GCC, *CFLAGS, "-c", str(src), "-o", str(src.with_suffix(".o"))]))
        if len(procs) >= 2 and procs.pop(0).wait() != 0:
            raise RuntimeError("compile failed")
    for p in procs:
        if p.wait() != 0:
            raise RuntimeError("compile failed")
    objects = [str(s.with_suffix(".o")) for s in [*objs, main]]
    subprocess.run([GCC, *CFLAGS, *LDFLAGS, *objects, "-o", str(elf)], check=True)
    return elf
