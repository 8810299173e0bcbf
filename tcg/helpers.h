// Helpers: the parts of x86 semantics too irregular to spell in IR ops. Each is a plain function
// (HelperFn) so the interpreter and the LLVM tier call the same code. A helper may throw
// GuestFault; helpers that write guest registers do so only after everything that can fault.
#pragma once
#include <cstdint>

#include "tcg/ir.h"

namespace janus::tcg {

// Does the helper leave alone everything the run loop checks between blocks (CPU mode, IF, TLB,
// debug state, pending events, devices)? Blocks that call only such helpers may run straight on
// into their successors. It may still fault. (tcg/helper_traits.cpp)
bool helper_is_local(HelperFn fn);
// Helpers that only compute flags from their arguments and the current lazy flags: no writes,
// no faults (an unused call may be dropped; it clobbers nothing).
bool helper_is_pure(HelperFn fn);
// Local helpers that set TcgCpu::loop_check when the run loop must look after all (STI, POPF
// setting IF or changing TF, a REP string instruction that paused for events or used ports).
bool helper_may_ask_for_loop(HelperFn fn);
// Local helpers that may access memory, MMIO included (callers compare the MMIO count).
bool helper_may_touch_memory(HelperFn fn);

// Packs (operation, operand size, extra) into a helper's constant parameter.
constexpr uint64_t hp(uint64_t op, uint64_t size = 0, uint64_t extra = 0) { return op | (size << 8) | (extra << 16); }
inline unsigned hp_op(uint64_t p) { return p & 0xff; }
inline unsigned hp_size(uint64_t p) { return (p >> 8) & 0xff; }
inline uint64_t hp_extra(uint64_t p) { return p >> 16; }

// --- helpers_arith.cpp ---
enum ShiftOp : unsigned { kRol, kRor, kRcl, kRcr, kShl, kShr, kSal, kSar };
uint64_t h_shift_result(TcgCpu&, uint64_t p /*op,size*/, uint64_t value, uint64_t count, uint64_t);
// extra kShiftImmCount: an imm8 count (C0/C1) with a register destination.
constexpr uint64_t kShiftImmCount = 1;
uint64_t h_shift_flags(TcgCpu&, uint64_t p /*op,size,extra*/, uint64_t value, uint64_t count, uint64_t);
uint64_t h_shiftd_result(TcgCpu&, uint64_t p /*left,size*/, uint64_t dest, uint64_t src, uint64_t count);
uint64_t h_shiftd_flags(TcgCpu&, uint64_t p /*left,size*/, uint64_t dest, uint64_t src, uint64_t count);
uint64_t h_mul_wide(TcgCpu&, uint64_t p /*signed,size*/, uint64_t src, uint64_t, uint64_t);
uint64_t h_imul_overflow(TcgCpu&, uint64_t p /*0,size*/, uint64_t a, uint64_t b, uint64_t);
uint64_t h_div(TcgCpu&, uint64_t p /*signed,size*/, uint64_t divisor, uint64_t, uint64_t);
uint64_t h_bit_scan(TcgCpu&, uint64_t p /*reverse,size*/, uint64_t src, uint64_t old_dest, uint64_t);
uint64_t h_bit_scan_flags(TcgCpu&, uint64_t p, uint64_t src, uint64_t result, uint64_t);
uint64_t h_bt_flags(TcgCpu&, uint64_t, uint64_t bit, uint64_t, uint64_t);
uint64_t h_bswap(TcgCpu&, uint64_t p /*0,size*/, uint64_t v, uint64_t, uint64_t);
// POPCNT / LZCNT / TZCNT (p: op kPopcnt/kLzcnt/kTzcnt, size): the result, and the flags as this
// CPU produces them (run on the host instruction, so undefined flags match hardware too).
enum BitCountOp : uint64_t { kPopcnt = 0, kLzcnt = 1, kTzcnt = 2 };
uint64_t h_bitcount(TcgCpu&, uint64_t p, uint64_t src, uint64_t, uint64_t);
uint64_t h_bitcount_flags(TcgCpu&, uint64_t p, uint64_t src, uint64_t, uint64_t);
// Checks that [offset, offset+size) in segment hp_op(p) may be written (p: segment, size), for
// read-modify-write operands: faults as a write would, writes nothing.
uint64_t h_probe_write(TcgCpu&, uint64_t p, uint64_t offset, uint64_t, uint64_t);
// CMPXCHG16B m128 (p: segment): #GP(0) unless 16-byte aligned.
uint64_t h_cmpxchg16b(TcgCpu&, uint64_t p, uint64_t offset, uint64_t, uint64_t);
uint64_t h_decimal(TcgCpu&, uint64_t p /*op*/, uint64_t imm, uint64_t, uint64_t);  // DAA DAS AAA AAS AAM AAD

// --- helpers_flags.cpp ---
enum FlagOp : unsigned { kClc, kStc, kCmc, kCld, kStd, kCli, kSti, kLahf, kSahf, kSalc };
uint64_t h_flag_op(TcgCpu&, uint64_t p /*op*/, uint64_t a, uint64_t, uint64_t);
uint64_t h_pushf_value(TcgCpu&, uint64_t p /*0,size*/, uint64_t, uint64_t, uint64_t);
uint64_t h_popf(TcgCpu&, uint64_t p /*0,size*/, uint64_t value, uint64_t, uint64_t);

// --- helpers_string.cpp ---
enum StringOp : unsigned { kMovs, kCmps, kStos, kLods, kScas, kIns, kOuts };
// p: op | size<<8 | extra = address size | rep(0/0xf3/0xf2)<<8 | segment<<16. Returns 1 when the
// instruction completed, 0 when it stopped at an iteration boundary to let events in.
uint64_t h_string(TcgCpu&, uint64_t p, uint64_t, uint64_t, uint64_t);
uint64_t h_in(TcgCpu&, uint64_t p /*0,size*/, uint64_t port, uint64_t, uint64_t);
uint64_t h_out(TcgCpu&, uint64_t p /*0,size*/, uint64_t port, uint64_t value, uint64_t);
// Raises #GP(0) unless CPL <= IOPL or the TSS I/O bitmap allows [port, port+size).
void check_io_permission(TcgCpu& cpu, uint16_t port, unsigned size);

// --- helpers_control.cpp: exceptions, interrupts, far transfers, segment loads ---
uint64_t h_raise(TcgCpu&, uint64_t p /*vector | has_error<<8 | error<<16*/, uint64_t, uint64_t, uint64_t);
uint64_t h_undefined(TcgCpu&, uint64_t, uint64_t, uint64_t, uint64_t);  // counts, then #UD
uint64_t h_int(TcgCpu&, uint64_t p /*vector | kind<<8*/, uint64_t next_rip, uint64_t, uint64_t);
uint64_t h_iret(TcgCpu&, uint64_t p /*0,opsize*/, uint64_t next_rip, uint64_t, uint64_t);
uint64_t h_far_jmp(TcgCpu&, uint64_t p /*0,opsize*/, uint64_t selector, uint64_t offset, uint64_t next_rip);
uint64_t h_far_call(TcgCpu&, uint64_t p /*0,opsize*/, uint64_t selector, uint64_t offset, uint64_t next_rip);
uint64_t h_far_ret(TcgCpu&, uint64_t p /*0,opsize,pop bytes*/, uint64_t, uint64_t, uint64_t);
uint64_t h_load_seg(TcgCpu&, uint64_t p /*seg*/, uint64_t selector, uint64_t, uint64_t);
uint64_t h_enter(TcgCpu&, uint64_t p /*0,opsize*/, uint64_t alloc, uint64_t level, uint64_t);
uint64_t h_pusha(TcgCpu&, uint64_t p /*0,opsize*/, uint64_t, uint64_t, uint64_t);
uint64_t h_popa(TcgCpu&, uint64_t p /*0,opsize*/, uint64_t, uint64_t, uint64_t);
uint64_t h_hlt(TcgCpu&, uint64_t, uint64_t next_rip, uint64_t, uint64_t);
uint64_t h_set_rip(TcgCpu&, uint64_t, uint64_t rip, uint64_t, uint64_t);
uint64_t h_interrupt_shadow(TcgCpu&, uint64_t p /*bit*/, uint64_t, uint64_t, uint64_t);

// --- helpers_system.cpp ---
uint64_t h_cpuid(TcgCpu&, uint64_t, uint64_t, uint64_t, uint64_t);
uint64_t h_rdtsc(TcgCpu&, uint64_t p /*1 = rdtscp*/, uint64_t, uint64_t, uint64_t);
uint64_t h_rdmsr(TcgCpu&, uint64_t, uint64_t, uint64_t, uint64_t);
uint64_t h_wrmsr(TcgCpu&, uint64_t, uint64_t, uint64_t, uint64_t);
uint64_t h_read_cr(TcgCpu&, uint64_t p /*cr*/, uint64_t, uint64_t, uint64_t);
uint64_t h_write_cr(TcgCpu&, uint64_t p /*cr*/, uint64_t value, uint64_t, uint64_t);
uint64_t h_read_dr(TcgCpu&, uint64_t p /*dr*/, uint64_t, uint64_t, uint64_t);
uint64_t h_write_dr(TcgCpu&, uint64_t p /*dr*/, uint64_t value, uint64_t, uint64_t);
uint64_t h_clts(TcgCpu&, uint64_t, uint64_t, uint64_t, uint64_t);
uint64_t h_lmsw(TcgCpu&, uint64_t, uint64_t value, uint64_t, uint64_t);
uint64_t h_smsw(TcgCpu&, uint64_t, uint64_t, uint64_t, uint64_t);
uint64_t h_invlpg(TcgCpu&, uint64_t p /*seg*/, uint64_t offset, uint64_t, uint64_t);
enum TableOp : unsigned { kSgdt, kSidt, kLgdt, kLidt };
uint64_t h_descriptor_table(TcgCpu&, uint64_t p /*op,opsize,seg*/, uint64_t offset, uint64_t, uint64_t);
uint64_t h_lldt(TcgCpu&, uint64_t, uint64_t selector, uint64_t, uint64_t);
uint64_t h_ltr(TcgCpu&, uint64_t, uint64_t selector, uint64_t, uint64_t);
uint64_t h_read_selector(TcgCpu&, uint64_t p /*0 ldtr, 1 tr, 2+seg*/, uint64_t, uint64_t, uint64_t);
uint64_t h_swapgs(TcgCpu&, uint64_t, uint64_t, uint64_t, uint64_t);
uint64_t h_syscall(TcgCpu&, uint64_t, uint64_t next_rip, uint64_t, uint64_t);
uint64_t h_sysret(TcgCpu&, uint64_t p /*0,opsize*/, uint64_t, uint64_t, uint64_t);
uint64_t h_sysenter(TcgCpu&, uint64_t, uint64_t, uint64_t, uint64_t);
uint64_t h_sysexit(TcgCpu&, uint64_t p /*0,opsize*/, uint64_t, uint64_t, uint64_t);
uint64_t h_cmpxchg8b(TcgCpu&, uint64_t p /*seg*/, uint64_t offset, uint64_t, uint64_t);
uint64_t h_check_cpl0(TcgCpu&, uint64_t, uint64_t, uint64_t, uint64_t);  // #GP(0) unless CPL 0

// --- helpers_descriptor_query.cpp: LAR LSL VERR VERW, ARPL's ZF, BOUND, near branch limits ---
enum DescriptorQuery : unsigned { kLar, kLsl, kVerr, kVerw };
// Returns bit 32 = ZF result (the selector passed the checks), bits 31..0 = LAR/LSL value.
uint64_t h_descriptor_query(TcgCpu&, uint64_t p /*op*/, uint64_t selector, uint64_t, uint64_t);
uint64_t h_set_zf(TcgCpu&, uint64_t, uint64_t set, uint64_t, uint64_t);
uint64_t h_bound(TcgCpu&, uint64_t p /*0,opsize*/, uint64_t index, uint64_t lower, uint64_t upper);  // #BR
// #GP(0) at the branch if a taken near branch leaves the CS limit (16/32-bit code).
uint64_t h_near_branch_limit(TcgCpu&, uint64_t, uint64_t target, uint64_t taken, uint64_t);

}  // namespace janus::tcg
