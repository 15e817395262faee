"""`espwatch image` results as text: app image checks, partition tables, OTA data and read-back diffs.

Each function takes a result of `espwatch.image` and returns the lines to print; nothing here reads files.
"""

from __future__ import annotations

from espwatch.image import AppImage, ImageCheck, ImageDiff, OtaData, PartitionTable, hex_view
from espwatch.image.app_image import AppDescriptor


def _hex(v: int | None, width: int = 2) -> str:
    return "?" if v is None else f"0x{v:0{width}x}"


def image_lines(img: AppImage) -> list[str]:
    out = [f"{img.path}: {img.file_size} bytes"]
    if not img.is_image:
        return out
    chip = f"{img.chip.name} (chip id {img.chip_id})" if img.chip else f"unknown (chip id {img.chip_id})"
    out.append(f"Chip:        {chip}, chip revision v{img.min_rev_full // 100}.{img.min_rev_full % 100} "
               f"to v{img.max_rev_full // 100}.{img.max_rev_full % 100} (legacy min_rev {img.min_rev})")
    out.append(f"Flash:       mode {img.flash_mode_name or img.flash_mode}, size {img.flash_size or '?'}, "
               f"freq {img.flash_freq or '?'}")
    out.append(f"Entry point: 0x{img.entry_point:08x}")
    out.append(f"Segments:    {img.segment_count}")
    out.append("   #   Length   Load addr   File offs  Memory")
    for s in img.segments:
        cut = f"  (only 0x{s.available:x} in the file)" if s.truncated else ""
        out.append(f"  {s.index:2d}  0x{s.length:05x}  0x{s.load_addr:08x}  0x{s.header_offset:08x} "
                   f" {s.region}{cut}")
    if img.checksum_offset is not None:
        state = "valid" if img.checksum_ok else ("INVALID" if img.checksum_ok is False else "missing")
        out.append(f"Checksum:    stored {_hex(img.checksum_stored)}, "
                   f"calculated {_hex(img.checksum_calculated)} ({state}) at 0x{img.checksum_offset:x}")
    if img.hash_appended:
        if img.sha256_ok is not None:
            out.append(f"SHA-256:     {'valid' if img.sha256_ok else 'INVALID'}")
            out.append(f"  stored     {img.sha256_stored}")
            out.append(f"  calculated {img.sha256_calculated}")
        elif img.sha256_calculated:
            out.append(f"SHA-256:     missing (calculated {img.sha256_calculated})")
    else:
        out.append("SHA-256:     not appended")
    d = img.app_desc
    if d:
        out.append("App:         " + f"{d.project_name} {d.version}")
        out.append(f"  ESP-IDF    {d.idf_version}")
        out.append(f"  compiled   {(d.compile_date + ' ' + d.compile_time).strip() or '(not recorded)'}")
        out.append(f"  ELF SHA256 {d.elf_sha256}")
        out.append(f"  secure version {d.secure_version}, eFuse block rev "
                   f"{AppDescriptor.efuse_rev(d.min_efuse_blk_rev_full)} to "
                   f"{AppDescriptor.efuse_rev(d.max_efuse_blk_rev_full)}"
                   + (f", MMU page {d.mmu_page_size // 1024} KB" if d.mmu_page_size else ""))
    elif img.bootloader_desc:
        b = img.bootloader_desc
        out.append(f"Bootloader:  version {b.version}, ESP-IDF {b.idf_version}, built {b.date_time}")
    elif img.segments:
        out.append("App:         no esp_app_desc_t (magic 0xABCD5432) at the start of the DROM segment")
    if img.signature:
        out.append(f"Signature:   {img.signature.scheme}, {img.signature.blocks} block(s) at "
                   f"0x{img.signature.offset:x}")
    elif img.checksum_stored is not None:
        out.append("Signature:   none")
    if img.trailing_bytes:
        out.append(f"After image: {img.trailing_bytes} bytes"
                   + (" of 0xFF padding" if img.trailing_blank else " (not all 0xFF)"))
    return out


def check_lines(check: ImageCheck) -> list[str]:
    """`espwatch image check`: the image, its ELF, how it fits its slot, notes, and the verdict."""
    out = image_lines(check.image)
    if check.elf:
        out.append(f"ELF:         {check.elf.path}: {check.elf.message()}")
    if check.table is not None:
        out.append(f"Partitions:  {check.table.path} ({check.table.source})")
        for fit in check.fits:
            out.append(f"  {fit.message()}")
    notes = [f for f in check.image.findings + check.findings if f.level != "error"]
    for f in notes:
        out.append(f"{f.level}: {f.message}")
    out.append(check.verdict())
    return out


def partition_lines(table: PartitionTable) -> list[str]:
    """`espwatch image partitions`: the table as the bootloader prints it, its MD5, notes and verdict."""
    out = [f"{table.path}: {table.source} partition table"
           + (f" at 0x{table.table_offset:x}" if table.source != "boot-log" else "")]
    out += table.bootloader_lines()
    if table.md5_present:
        out.append(f"MD5: stored {table.md5_stored}, calculated {table.md5_calculated} "
                   f"({'valid' if table.md5_ok else 'INVALID'})")
    for f in table.findings:
        if f.level != "error":
            out.append(f"{f.level}: {f.message}")
    out.append(table.verdict())
    return out


def otadata_lines(od: OtaData) -> list[str]:
    """`espwatch image otadata`: both sectors, which slot boots next and why."""
    slots = "unknown (give --ota-slots or --partitions)" if od.ota_slots is None else str(od.ota_slots)
    out = [f"{od.path}: otadata, OTA slots: {slots}",
           "  #  ota_seq     state           crc         check"]
    for e in od.entries:
        seq = "0xffffffff" if e.ota_seq == 0xFFFFFFFF else str(e.ota_seq)
        out.append(f"  [{e.sector}] {seq:<11s} {e.state_name:<15s} 0x{e.crc:08x}  {e.why_not()}")
    for f in od.findings:
        out.append(f"{f.level}: {f.message}")
    out.append(od.verdict())
    return out


def diff_lines(d: ImageDiff, max_runs: int, hex_runs: int) -> list[str]:
    img = d.image
    desc = img.verdict() if img.is_image else "not a parsable image: " + img.verdict()
    out = [f"original:  {d.original_path}: {d.original_size} bytes ({desc})"]
    rb = f"read-back: {d.readback_path}: {d.readback_size} bytes"
    if d.extra_bytes:
        rb += (f", {d.extra_bytes} bytes longer than the image (partition-sized read-back?): "
               + ("all 0xFF" if not d.extra_non_ff else f"{d.extra_non_ff} of them not 0xFF (stale data)"))
    out.append(rb)
    if d.truncated:
        if d.readback_size < d.original_size and d.tail_start == d.readback_size:
            out.append(f"written:   only {d.written} of {d.original_size} bytes: "
                       "the read-back file ends there")
        else:
            out.append(f"written:   only {d.written} of {d.original_size} bytes written: "
                       f"from 0x{d.tail_start:x} ({img.describe_offset(d.tail_start or 0)}) on, "
                       "the read-back is 0xFF where the original has data")
    else:
        out.append(f"written:   all {d.original_size} bytes present")
    if d.run_count:
        out.append(f"runs:      {d.run_count} run(s), {d.run_differing} differing byte(s) before "
                   + ("the unwritten tail" if d.truncated else "the image end"))
        for kind, n in d.kinds().most_common():
            out.append(f"  {n:5d} {kind}")
        regions = d.by_region().most_common()
        out.append("by region: " + ", ".join(f"{w}: {n}" for w, n in regions[:12])
                   + (f", {len(regions) - 12} more regions" if len(regions) > 12 else ""))
        for i, r in enumerate(d.runs[:max_runs]):
            out.append(f"  run {i + 1}: 0x{r.offset:06x} +{r.length} ({r.where}): {r.describe()}")
        if d.run_count > min(max_runs, len(d.runs)):
            out.append(f"  ... {d.run_count - min(max_runs, len(d.runs))} more run(s) (--max-runs, --json; "
                       f"--json lists the first {len(d.runs)})")
    rbi = d.readback_image
    if img.is_image and rbi.checksum_stored is not None and rbi.checksum_calculated is not None \
            and not rbi.checksum_ok:
        out.append(f"bootloader would say: \"Checksum failed. Calculated 0x{rbi.checksum_calculated:02x} "
                   f"read 0x{rbi.checksum_stored:02x}\"")
    elif img.is_image and not rbi.valid and not d.truncated:
        out.append(f"read-back as an image: {rbi.verdict()}")
    for i, r in enumerate(d.runs[:hex_runs]):
        out.append(f"-- run {i + 1} at 0x{r.offset:x} ({r.where})")
        out += ["  " + line for line in hex_view(d, r)]
    out.append(d.verdict())
    return out
