#include "tcg/jit_runtime.h"

namespace janus::tcg {

namespace {
void leave_fault(TcgCpu* cpu, const GuestFault& f) {
  cpu->pending_fault = f;
  cpu->fault_pending = true;
}
}  // namespace

uint64_t rt_load(TcgCpu* cpu, uint64_t seg, uint64_t offset, uint64_t size) {
  try {
    if (seg == 0xff) return cpu->mmu.read(offset, unsigned(size), cpu->user_mode());
    return cpu->load(unsigned(seg), offset, unsigned(size));
  } catch (const GuestFault& f) {
    leave_fault(cpu, f);
    return 0;
  }
}

void rt_store(TcgCpu* cpu, uint64_t seg, uint64_t offset, uint64_t size, uint64_t value) {
  try {
    if (seg == 0xff) return cpu->mmu.write(offset, unsigned(size), value, cpu->user_mode());
    cpu->store(unsigned(seg), offset, unsigned(size), value);
  } catch (const GuestFault& f) {
    leave_fault(cpu, f);
  }
}

uint64_t rt_helper(TcgCpu* cpu, HelperFn fn, uint64_t p, uint64_t a, uint64_t b, uint64_t c) {
  try {
    return fn(*cpu, p, a, b, c);
  } catch (const GuestFault& f) {
    leave_fault(cpu, f);
    return 0;
  }
}

uint64_t rt_condition(TcgCpu* cpu, uint64_t cc) { return cpu->cc.condition(unsigned(cc)); }
uint64_t rt_carry(TcgCpu* cpu) { return cpu->cc.carry(); }

}  // namespace janus::tcg
