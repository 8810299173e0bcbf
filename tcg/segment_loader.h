// Segment-register loads with the protected-mode checks (Intel SDM Vol. 3, 5.5-5.8) and their
// error codes: descriptor fetch from the GDT/LDT, type, privilege and presence checks.
#pragma once
#include <cstdint>

#include "cpu/descriptors.h"
#include "tcg/tcg_cpu.h"

namespace janus::tcg {

// Reads the 8-byte descriptor for selector; raises `vector`(selector) if it lies beyond the table.
SegmentDescriptor read_descriptor(TcgCpu& cpu, uint16_t selector, uint8_t vector = kGP);
// Reads the high 8 bytes of a 16-byte system descriptor (long-mode LDT/TSS/gates).
uint64_t read_descriptor_high(TcgCpu& cpu, uint16_t selector, uint8_t vector = kGP);
// Sets the accessed bit of a code/data descriptor in memory.
void mark_accessed(TcgCpu& cpu, uint16_t selector, const SegmentDescriptor& d);

// MOV/POP/LDS.. to DS, ES, FS, GS or SS, in any mode. Commits the segment register.
void load_data_segment(TcgCpu& cpu, unsigned seg, uint16_t selector);
// Validates SS for a privilege change to `cpl` (from a TSS or a far return). Returns the cache form.
Segment check_stack_segment(TcgCpu& cpu, uint16_t selector, unsigned cpl, uint8_t vector);
// After a return to an outer privilege: data segments the new CPL may not use become null.
void nullify_inaccessible_segments(TcgCpu& cpu);
// Sets CS (and the CPL that comes with it, via SS.DPL only for transfers that change SS).
void commit_code_segment(TcgCpu& cpu, const Segment& cs);

}  // namespace janus::tcg
