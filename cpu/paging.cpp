// The x86 page walk (Intel SDM Vol. 3, chapter 4: 4.3 32-bit, 4.4 PAE, 4.5 4-level paging,
// 4.6 access rights, 4.7 page-fault error code, 4.8 accessed and dirty flags).
#include "cpu/paging.h"

#include <algorithm>

#include "cpu/exceptions.h"

namespace janus {

bool PhysicalMemoryAccess::read_bytes(uint64_t gpa, void* out, size_t len) {
  auto* dst = static_cast<uint8_t*>(out);
  while (len > 0) {
    // Aligned dwords, so a read never needs bytes beyond the dword holding the last one asked for.
    uint64_t aligned = gpa & ~uint64_t(3);
    uint32_t word = 0;
    if (!read_u32(aligned, word)) return false;
    unsigned skip = unsigned(gpa - aligned);
    size_t n = std::min<size_t>(4 - skip, len);
    for (size_t i = 0; i < n; ++i) dst[i] = uint8_t(word >> (8 * (skip + i)));
    dst += n;
    gpa += n;
    len -= n;
  }
  return true;
}

PagingContext PagingContext::from(const CpuState& s, bool user_access, uint8_t phys_addr_bits) {
  PagingContext c;
  c.cr0 = s.cr0;
  c.cr3 = s.cr3;
  c.cr4 = s.cr4;
  c.efer = s.efer;
  c.user = user_access;
  c.ac_flag = s.rflags & rflags::AC;
  c.phys_addr_bits = phys_addr_bits;
  return c;
}

namespace {

namespace pte {
constexpr uint64_t P = 1u << 0, RW = 1u << 1, US = 1u << 2, A = 1u << 5, D = 1u << 6,
                   PS = 1u << 7, G = 1u << 8, XD = 1ull << 63;
}

// Bits hi..lo inclusive; empty when hi < lo.
constexpr uint64_t bit_range(unsigned hi, unsigned lo) {
  if (hi < lo) return 0;
  uint64_t upper = hi >= 63 ? ~0ull : (1ull << (hi + 1)) - 1;
  return upper & ~((1ull << lo) - 1);
}

// One walk: reads entries, accumulates the rights of every level, and remembers the entries it
// used so that accessed/dirty flags are written only once the access is known to be allowed.
class Walker {
 public:
  Walker(PhysicalMemoryAccess& mem, const PagingContext& ctx, AccessKind kind, Translation& t)
      : mem_(mem), ctx_(ctx), kind_(kind), t_(t) {
    const bool pae_tables = (ctx.cr4 & cr4::PAE) || (ctx.efer & efer::LMA);
    nxe_ = pae_tables && (ctx.efer & efer::NXE);
    if (kind == AccessKind::kWrite) base_error_ |= pf_error::W;
    if (ctx.user) base_error_ |= pf_error::U;
    // Intel reports I only when NX (PAE tables with EFER.NXE) or SMEP could cause the fault.
    if (kind == AccessKind::kExecute && (nxe_ || (ctx.cr4 & cr4::SMEP))) base_error_ |= pf_error::I;
  }

  bool nxe() const { return nxe_; }

  // Reads an entry and checks its P bit. wide: 8-byte entry, else 4-byte.
  bool read(uint64_t addr, bool wide, uint64_t& e) {
    bool ok;
    if (wide) {
      ok = mem_.read_u64(addr, e);
    } else {
      uint32_t v = 0;
      ok = mem_.read_u32(addr, v);
      e = v;
    }
    if (!ok) {
      t_.memory_error = true;
      return fault(pf_error::P | pf_error::RSVD);
    }
    if (!(e & pte::P)) return fault(0);
    return true;
  }

  bool check_reserved(uint64_t e, uint64_t reserved) {
    return (e & reserved) ? fault(pf_error::P | pf_error::RSVD) : true;
  }

  // Records a present, valid entry. rights: whether its R/W, U/S and XD bits take part (the PAE
  // PDPTEs hold none of them). accessed: whether the CPU sets its A bit.
  void use(uint64_t addr, bool wide, uint64_t e, bool rights, bool accessed) {
    if (rights) {
      user_ok_ = user_ok_ && (e & pte::US);
      write_ok_ = write_ok_ && (e & pte::RW);
      if (nxe_ && (e & pte::XD)) nx_ = true;
    }
    if (accessed) used_[n_used_++] = Used{addr, e, wide};
  }

  bool allowed(AccessKind k) const {
    if (ctx_.user) {
      if (!user_ok_) return false;
      if (k == AccessKind::kWrite) return write_ok_;
      if (k == AccessKind::kExecute) return !nx_;
      return true;
    }
    if (k == AccessKind::kExecute) return !nx_ && !((ctx_.cr4 & cr4::SMEP) && user_ok_);
    // SMAP: explicit supervisor data accesses to user pages need RFLAGS.AC; implicit ones
    // (descriptor tables, TSS) never get through.
    if ((ctx_.cr4 & cr4::SMAP) && user_ok_ && (ctx_.implicit_supervisor || !ctx_.ac_flag))
      return false;
    if (k == AccessKind::kWrite) return write_ok_ || !(ctx_.cr0 & cr0::WP);
    return true;
  }

  // Final step once the leaf is known: rights check, A/D updates, Translation fields.
  Translation& finish(uint64_t frame, uint64_t page_size, uint64_t va) {
    if (!allowed(kind_)) {
      fault(pf_error::P);
      return t_;
    }
    const Used& leaf = used_[n_used_ - 1];
    for (int i = 0; i < n_used_; ++i) {
      const Used& u = used_[i];
      uint64_t v = u.value | pte::A;
      if (i == n_used_ - 1 && kind_ == AccessKind::kWrite) v |= pte::D;
      if (v == u.value) continue;
      // A failed write of an entry just read cannot happen with RAM; nothing useful to do if it does.
      if (u.wide)
        mem_.write_u64(u.addr, v);
      else
        mem_.write_u32(u.addr, uint32_t(v));
    }
    t_.ok = true;
    t_.error_code = 0;
    t_.page_size = page_size;
    t_.gpa = frame | (va & (page_size - 1));
    t_.user = user_ok_;
    t_.writable = allowed(AccessKind::kWrite);
    t_.executable = allowed(AccessKind::kExecute);
    t_.global = (leaf.value & pte::G) && (ctx_.cr4 & cr4::PGE);
    t_.dirty = (leaf.value & pte::D) || kind_ == AccessKind::kWrite;
    return t_;
  }

  bool fault(uint32_t bits) {
    t_.ok = false;
    t_.error_code = base_error_ | bits;
    return false;
  }

 private:
  struct Used {
    uint64_t addr = 0, value = 0;
    bool wide = false;
  };
  PhysicalMemoryAccess& mem_;
  const PagingContext& ctx_;
  AccessKind kind_;
  Translation& t_;
  bool nxe_ = false;
  uint32_t base_error_ = 0;
  bool user_ok_ = true, write_ok_ = true, nx_ = false;
  Used used_[4];
  int n_used_ = 0;
};

// 32-bit paging: two levels of 4-byte entries; CR4.PSE adds 4 MiB pages with PSE-36 high bits.
Translation walk_32bit(Walker& w, Translation& t, const PagingContext& ctx, unsigned maxphy,
                       uint32_t va) {
  uint64_t pde_addr = (ctx.cr3 & 0xfffff000) + ((va >> 22) & 0x3ff) * 4;
  uint64_t pde;
  if (!w.read(pde_addr, false, pde)) return t;
  const bool pse = (ctx.cr4 & cr4::PSE) && ctx.pse_enabled_by_cpuid;
  if (pse && (pde & pte::PS)) {
    // Bits 20:13 give physical bits 39:32; those beyond MAXPHYADDR and bit 21 are reserved.
    unsigned high_bits = std::min(maxphy, 40u) - 32;
    if (!w.check_reserved(pde, (1u << 21) | bit_range(20, 13 + high_bits))) return t;
    w.use(pde_addr, false, pde, true, true);
    uint64_t frame = (pde & 0xffc00000) | ((pde >> 13) & 0xff) << 32;
    return w.finish(frame, 4u << 20, va);
  }
  w.use(pde_addr, false, pde, true, true);
  uint64_t pte_addr = (pde & 0xfffff000) + ((va >> 12) & 0x3ff) * 4;
  uint64_t pte;
  if (!w.read(pte_addr, false, pte)) return t;
  w.use(pte_addr, false, pte, true, true);
  return w.finish(pte & 0xfffff000, 4096, va);
}

// The two lowest levels shared by PAE and 4-level paging: a PDE (2 MiB or table) and a PTE.
Translation walk_pd(Walker& w, Translation& t, uint64_t pd, uint64_t entry_reserved,
                    uint64_t addr_mask, uint64_t va) {
  uint64_t pde_addr = pd + ((va >> 21) & 0x1ff) * 8;
  uint64_t pde;
  if (!w.read(pde_addr, true, pde)) return t;
  if (pde & pte::PS) {
    if (!w.check_reserved(pde, entry_reserved | bit_range(20, 13))) return t;
    w.use(pde_addr, true, pde, true, true);
    return w.finish(pde & addr_mask & ~bit_range(20, 0), 2u << 20, va);
  }
  if (!w.check_reserved(pde, entry_reserved)) return t;
  w.use(pde_addr, true, pde, true, true);
  uint64_t pte_addr = (pde & addr_mask) + ((va >> 12) & 0x1ff) * 8;
  uint64_t pte;
  if (!w.read(pte_addr, true, pte)) return t;
  if (!w.check_reserved(pte, entry_reserved)) return t;
  w.use(pte_addr, true, pte, true, true);
  return w.finish(pte & addr_mask, 4096, va);
}

// PAE paging. Real CPUs load the four PDPTEs into registers at MOV CR3 (and check their reserved
// bits there, raising #GP); Janus reads them at walk time instead and reports a bad PDPTE as a
// #PF with RSVD. Guests that change a PDPTE without reloading CR3 see the change earlier than on
// hardware; none rely on the stale copy.
Translation walk_pae(Walker& w, Translation& t, const PagingContext& ctx, unsigned maxphy,
                     uint32_t va) {
  const uint64_t addr_mask = bit_range(maxphy - 1, 12);
  const uint64_t entry_reserved = bit_range(62, maxphy) | (w.nxe() ? 0 : pte::XD);
  uint64_t pdpte_addr = (ctx.cr3 & 0xffffffe0) + ((va >> 30) & 3) * 8;
  uint64_t pdpte;
  if (!w.read(pdpte_addr, true, pdpte)) return t;
  if (!w.check_reserved(pdpte, bit_range(63, maxphy) | bit_range(8, 5) | bit_range(2, 1))) return t;
  // PAE PDPTEs carry no rights and no accessed flag (bits 2:1 and 8:5 are reserved).
  w.use(pdpte_addr, true, pdpte, false, false);
  return walk_pd(w, t, pdpte & addr_mask, entry_reserved, addr_mask, va);
}

// 4-level paging (IA-32e): PML4 -> PDPT (1 GiB pages) -> PD (2 MiB pages) -> PT.
Translation walk_4level(Walker& w, Translation& t, const PagingContext& ctx, unsigned maxphy,
                        uint64_t va) {
  const uint64_t addr_mask = bit_range(maxphy - 1, 12);
  const uint64_t entry_reserved = bit_range(51, maxphy) | (w.nxe() ? 0 : pte::XD);
  uint64_t pml4e_addr = (ctx.cr3 & addr_mask) + ((va >> 39) & 0x1ff) * 8;
  uint64_t pml4e;
  if (!w.read(pml4e_addr, true, pml4e)) return t;
  if (!w.check_reserved(pml4e, entry_reserved | pte::PS)) return t;
  w.use(pml4e_addr, true, pml4e, true, true);

  uint64_t pdpte_addr = (pml4e & addr_mask) + ((va >> 30) & 0x1ff) * 8;
  uint64_t pdpte;
  if (!w.read(pdpte_addr, true, pdpte)) return t;
  if (pdpte & pte::PS) {
    if (!w.check_reserved(pdpte, entry_reserved | bit_range(29, 13))) return t;
    w.use(pdpte_addr, true, pdpte, true, true);
    return w.finish(pdpte & addr_mask & ~bit_range(29, 0), 1u << 30, va);
  }
  if (!w.check_reserved(pdpte, entry_reserved)) return t;
  w.use(pdpte_addr, true, pdpte, true, true);
  return walk_pd(w, t, pdpte & addr_mask, entry_reserved, addr_mask, va);
}

}  // namespace

Translation translate(PhysicalMemoryAccess& mem, const PagingContext& ctx, uint64_t va, AccessKind kind) {
  Translation t;
  if (!(ctx.cr0 & cr0::PG)) {
    // Without paging, linear addresses are 32 bits wide (long mode needs paging).
    t.ok = true;
    t.gpa = va & 0xffffffff;
    t.writable = t.user = t.executable = true;
    t.dirty = true;
    return t;
  }
  // MAXPHYADDR comes from Janus's CPUID template, but keep the masks sane whatever it says.
  const unsigned maxphy = std::clamp<unsigned>(ctx.phys_addr_bits, 32, 52);
  Walker w(mem, ctx, kind, t);
  if (ctx.efer & efer::LMA) {
    if (!is_canonical(va)) {
      t.non_canonical = true;
      return t;
    }
    return walk_4level(w, t, ctx, maxphy, va);
  }
  if (ctx.cr4 & cr4::PAE) return walk_pae(w, t, ctx, maxphy, uint32_t(va));
  return walk_32bit(w, t, ctx, maxphy, uint32_t(va));
}

}  // namespace janus
