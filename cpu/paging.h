// The x86 page walk: legacy 32-bit (with PSE), PAE and 4-level paging, with accessed/dirty
// updates, NX, WP, SMEP/SMAP and reserved-bit checks. The software CPU's soft MMU calls it on a
// TLB miss; KVM-side tools (cross-check, debugger) call it to read guest memory by virtual address.
#pragma once
#include <cstddef>
#include <cstdint>

#include "cpu/cpu_state.h"

namespace janus {

// Physical memory as the walker sees it: 4/8-byte reads and atomic-enough writes of entries.
class PhysicalMemoryAccess {
 public:
  virtual ~PhysicalMemoryAccess() = default;
  // Return false if the address is not RAM (the walk then fails with a reserved-bit-like fault
  // the caller reports as a machine problem, never a crash).
  virtual bool read_u32(uint64_t gpa, uint32_t& value) = 0;
  virtual bool read_u64(uint64_t gpa, uint64_t& value) = 0;
  virtual bool write_u32(uint64_t gpa, uint32_t value) = 0;
  virtual bool write_u64(uint64_t gpa, uint64_t value) = 0;
  // Bulk read for tools (debugger, cross-check reports). The default reads aligned dwords
  // through read_u32; implementations with direct access should override it.
  virtual bool read_bytes(uint64_t gpa, void* out, size_t len);
};

enum class AccessKind : uint8_t { kRead, kWrite, kExecute };

struct PagingContext {
  uint64_t cr0 = 0, cr3 = 0, cr4 = 0, efer = 0;
  bool user = false;           // access made with CPL 3 (and not an implicit supervisor access)
  bool implicit_supervisor = false;  // descriptor-table / TSS accesses: RFLAGS.AC does not lift SMAP
  bool ac_flag = false;        // RFLAGS.AC (SMAP override for explicit supervisor accesses)
  uint8_t phys_addr_bits = 40; // MAXPHYADDR from CPUID 0x80000008, for reserved-bit checks
  bool pse_enabled_by_cpuid = true;  // false: CR4.PSE is ignored (no 4 MiB pages)
  static PagingContext from(const CpuState& s, bool user_access, uint8_t phys_addr_bits = 40);
};

struct Translation {
  bool ok = false;
  uint64_t gpa = 0;          // physical address of the byte asked for
  uint64_t page_size = 4096; // 4 KiB, 2 MiB, 4 MiB or 1 GiB
  bool writable = false;     // writes allowed for this access's privilege (after WP, SMAP)
  bool user = false;         // U/S allows user access
  bool executable = true;    // fetches allowed for this access's privilege (not NX, not SMEP)
  bool global = false;       // G bit on the final entry (with CR4.PGE)
  uint32_t error_code = 0;   // #PF error code when !ok
  bool dirty = false;        // final entry's D bit is set; a cached read must re-walk to write
  bool non_canonical = false;  // !ok because va is not canonical: raise #GP(0)/#SS(0), not #PF
  bool memory_error = false;   // !ok because a table entry lies outside RAM (error_code has
                               // P|RSVD); the caller reports a machine problem
};

// Walks the tables for linear address `va`. Sets accessed bits on every level it uses and the
// dirty bit on the final entry for writes, only when the access is permitted. With paging off
// (CR0.PG=0) it returns the identity mapping.
Translation translate(PhysicalMemoryAccess& mem, const PagingContext& ctx, uint64_t va, AccessKind kind);

// True if va is canonical for 48-bit linear addresses.
inline bool is_canonical(uint64_t va) { return uint64_t(int64_t(va << 16) >> 16) == va; }

}  // namespace janus
