// Hardware task switching (Intel SDM Vol. 3, chapter 7): JMP/CALL to a TSS descriptor or a task
// gate, INT/exceptions through an IDT task gate, IRET with NT=1 back along the TSS back-link.
// 32-bit and 16-bit TSS formats. Long mode has no task switching (callers raise #GP there).
#pragma once
#include <cstdint>

#include "cpu/descriptors.h"
#include "tcg/tcg_cpu.h"

namespace janus::tcg {

enum class TaskSwitchReason { kJmp, kCall, kIret, kInterrupt };

// Switches from the current task (TR) to the one whose TSS selector is `tss_sel`.
// `return_rip` is saved as the old task's EIP. For kInterrupt, an exception's error code is pushed
// on the new task's stack; `ext` sets the EXT bit of error codes raised on the way.
// Faults found before the switch commits are raised in the old task; the segment checks of the
// new task's state come after it, so those faults are raised in the new task (SDM 7.3, step 12).
void task_switch(TcgCpu& cpu, uint16_t tss_sel, TaskSwitchReason reason, uint64_t return_rip,
                 bool has_error = false, uint32_t error = 0, bool ext = false);

// JMP/CALL far to a system descriptor that is a TSS or a task gate (already read from the
// GDT/LDT): the privilege and presence checks on it, then the switch.
void task_switch_far(TcgCpu& cpu, uint16_t sel, const SegmentDescriptor& d, bool call, uint64_t return_rip);

}  // namespace janus::tcg
