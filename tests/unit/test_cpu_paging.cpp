// Page walks over hand-built tables, checked bit for bit: translations, A/D updates and
// #PF error codes for every paging mode.
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "cpu/exceptions.h"
#include "cpu/paging.h"

using namespace janus;

namespace {

// 2 MiB of guest-physical memory in a vector; counts entry writes so tests can prove none happen.
class TestMemory : public PhysicalMemoryAccess {
 public:
  std::vector<uint8_t> bytes = std::vector<uint8_t>(2 << 20, 0);
  int writes = 0;

  bool in(uint64_t gpa, size_t n) const { return gpa <= bytes.size() && n <= bytes.size() - gpa; }
  bool read_u32(uint64_t gpa, uint32_t& v) override {
    if (!in(gpa, 4)) return false;
    std::memcpy(&v, &bytes[gpa], 4);
    return true;
  }
  bool read_u64(uint64_t gpa, uint64_t& v) override {
    if (!in(gpa, 8)) return false;
    std::memcpy(&v, &bytes[gpa], 8);
    return true;
  }
  bool write_u32(uint64_t gpa, uint32_t v) override {
    if (!in(gpa, 4)) return false;
    ++writes;
    std::memcpy(&bytes[gpa], &v, 4);
    return true;
  }
  bool write_u64(uint64_t gpa, uint64_t v) override {
    if (!in(gpa, 8)) return false;
    ++writes;
    std::memcpy(&bytes[gpa], &v, 8);
    return true;
  }
  uint32_t u32(uint64_t gpa) { uint32_t v = 0; read_u32(gpa, v); return v; }
  uint64_t u64(uint64_t gpa) { uint64_t v = 0; read_u64(gpa, v); return v; }
  void set32(uint64_t gpa, uint32_t v) { std::memcpy(&bytes[gpa], &v, 4); }
  void set64(uint64_t gpa, uint64_t v) { std::memcpy(&bytes[gpa], &v, 8); }
};

constexpr uint64_t P = 1, RW = 2, US = 4, A = 0x20, D = 0x40, PS = 0x80, G = 0x100, XD = 1ull << 63;
// #PF error-code bits.
constexpr uint32_t EP = pf_error::P, EW = pf_error::W, EU = pf_error::U, ERSVD = pf_error::RSVD,
                   EI = pf_error::I;

PagingContext ctx32(bool user = false) {
  PagingContext c;
  c.cr0 = cr0::PE | cr0::PG | cr0::WP;
  c.cr3 = 0x1000;
  c.user = user;
  return c;
}

PagingContext ctx_pae(bool user = false) {
  PagingContext c = ctx32(user);
  c.cr4 = cr4::PAE;
  c.cr3 = 0x3020;  // PDPT only needs 32-byte alignment
  return c;
}

PagingContext ctx64(bool user = false) {
  PagingContext c = ctx32(user);
  c.cr4 = cr4::PAE;
  c.efer = efer::LME | efer::LMA;
  c.cr3 = 0x10000;
  return c;
}

// 4-level tables: PML4 0x10000, PDPT 0x11000, PD 0x12000, PT 0x13000, for va with indices
// PML4 0x100 (0xffff800000000000), PDPT 2, PD 3, PT 4.
constexpr uint64_t kVa64 = 0xffff800000000000ull | (2ull << 30) | (3ull << 21) | (4ull << 12) | 0x9ab;
constexpr uint64_t kPml4e = 0x10000 + 0x100 * 8, kPdpte = 0x11000 + 2 * 8, kPde = 0x12000 + 3 * 8,
                   kPte = 0x13000 + 4 * 8;
void map64(TestMemory& m, uint64_t leaf_flags, uint64_t upper_flags = P | RW | US) {
  m.set64(kPml4e, 0x11000 | upper_flags);
  m.set64(kPdpte, 0x12000 | upper_flags);
  m.set64(kPde, 0x13000 | upper_flags);
  m.set64(kPte, 0xabcd000 | leaf_flags);
}

}  // namespace

// --- paging off ---

TEST(Paging, DisabledIsIdentityOn32BitLinearAddresses) {
  TestMemory m;
  PagingContext c;
  c.cr0 = cr0::PE;
  Translation t = translate(m, c, 0x1'2345'6789ull, AccessKind::kWrite);
  ASSERT_TRUE(t.ok);
  EXPECT_EQ(t.gpa, 0x23456789u);
  EXPECT_TRUE(t.writable && t.user && t.executable);
  EXPECT_EQ(m.writes, 0);
}

TEST(Paging, ContextFromCpuState) {
  CpuState s;
  s.cr0 = cr0::PE | cr0::PG;
  s.cr3 = 0x5000;
  s.cr4 = cr4::PAE | cr4::SMAP;
  s.efer = efer::LMA | efer::NXE;
  s.rflags |= rflags::AC;
  PagingContext c = PagingContext::from(s, true, 46);
  EXPECT_EQ(c.cr0, s.cr0);
  EXPECT_EQ(c.cr3, 0x5000u);
  EXPECT_EQ(c.cr4, s.cr4);
  EXPECT_EQ(c.efer, s.efer);
  EXPECT_TRUE(c.user);
  EXPECT_TRUE(c.ac_flag);
  EXPECT_FALSE(c.implicit_supervisor);
  EXPECT_EQ(c.phys_addr_bits, 46);
  s.rflags &= ~rflags::AC;
  EXPECT_FALSE(PagingContext::from(s, false).ac_flag);
}

// --- 32-bit paging ---

TEST(Paging32, FourKPageSetsAccessedThenDirty) {
  TestMemory m;
  m.set32(0x1000 + 1 * 4, 0x2000 | P | RW | US);   // PDE for 0x00400000
  m.set32(0x2000 + 3 * 4, 0x55000 | P | RW | US);  // PTE for 0x00403000
  Translation t = translate(m, ctx32(), 0x00403123, AccessKind::kRead);
  ASSERT_TRUE(t.ok);
  EXPECT_EQ(t.gpa, 0x55123u);
  EXPECT_EQ(t.page_size, 4096u);
  EXPECT_TRUE(t.writable);
  EXPECT_TRUE(t.user);
  EXPECT_TRUE(t.executable);
  EXPECT_FALSE(t.dirty);
  EXPECT_EQ(m.u32(0x1004), 0x2000 | P | RW | US | A);
  EXPECT_EQ(m.u32(0x200c), 0x55000 | P | RW | US | A);

  t = translate(m, ctx32(), 0x00403fff, AccessKind::kWrite);
  ASSERT_TRUE(t.ok);
  EXPECT_EQ(t.gpa, 0x55fffu);
  EXPECT_TRUE(t.dirty);
  EXPECT_EQ(m.u32(0x1004), 0x2000 | P | RW | US | A);  // D only on the final entry
  EXPECT_EQ(m.u32(0x200c), 0x55000 | P | RW | US | A | D);
}

TEST(Paging32, Pse4MiBPageWithPse36HighBits) {
  TestMemory m;
  // PDE 3 maps 0x00c00000 to 0x12'00c00000: bits 20:13 of the PDE are physical bits 39:32.
  m.set32(0x1000 + 3 * 4, 0x00c00000 | (0x12 << 13) | PS | P | RW);
  PagingContext c = ctx32();
  c.cr4 = cr4::PSE;
  Translation t = translate(m, c, 0x00d12345, AccessKind::kWrite);
  ASSERT_TRUE(t.ok);
  EXPECT_EQ(t.gpa, 0x12'00d12345ull);
  EXPECT_EQ(t.page_size, 4u << 20);
  EXPECT_FALSE(t.user);
  EXPECT_EQ(m.u32(0x100c), 0x00c00000 | (0x12 << 13) | PS | P | RW | A | D);
}

TEST(Paging32, PsIgnoredWithoutCr4Pse) {
  TestMemory m;
  m.set32(0x1000, 0x2000 | PS | P | RW);  // treated as a page-table pointer
  m.set32(0x2000 + 5 * 4, 0x7000 | P | RW);
  Translation t = translate(m, ctx32(), 0x5010, AccessKind::kRead);
  ASSERT_TRUE(t.ok);
  EXPECT_EQ(t.gpa, 0x7010u);
  EXPECT_EQ(t.page_size, 4096u);
}

TEST(Paging32, Pse4MiBReservedBits) {
  TestMemory m;
  PagingContext c = ctx32();
  c.cr4 = cr4::PSE;
  m.set32(0x1000, 0x00000000 | (1u << 21) | PS | P);  // bit 21 is always reserved
  Translation t = translate(m, c, 0x1000, AccessKind::kRead);
  EXPECT_FALSE(t.ok);
  EXPECT_EQ(t.error_code, EP | ERSVD);
  // With MAXPHYADDR 36 only bits 16:13 carry address; bit 17 (physical bit 36) is reserved.
  m.set32(0x1000, (1u << 17) | PS | P);
  c.phys_addr_bits = 36;
  t = translate(m, c, 0x1000, AccessKind::kWrite);
  EXPECT_FALSE(t.ok);
  EXPECT_EQ(t.error_code, EP | ERSVD | EW);
  c.phys_addr_bits = 40;
  EXPECT_TRUE(translate(m, c, 0x1000, AccessKind::kRead).ok);
  EXPECT_EQ(m.writes, 1);  // only the successful walk set A
  EXPECT_EQ(m.u32(0x1000), (1u << 17) | PS | P | A);
}

TEST(Paging32, NoInstructionFlagWithoutPaeEvenIfNxeSet) {
  TestMemory m;
  PagingContext c = ctx32();
  c.efer = efer::NXE;  // NX does not exist in 32-bit paging
  EXPECT_EQ(translate(m, c, 0x1000, AccessKind::kExecute).error_code, 0u);
  c.cr4 = cr4::SMEP;
  EXPECT_EQ(translate(m, c, 0x1000, AccessKind::kExecute).error_code, EI);
}

// --- PAE paging ---

TEST(PagingPae, FourKPageAndPdpteUntouched) {
  TestMemory m;
  const uint32_t va = 0x40000000 | (2 << 21) | (5 << 12) | 0x678;
  m.set64(0x3020 + 1 * 8, 0x4000 | P);
  m.set64(0x4000 + 2 * 8, 0x5000 | P | RW | US);
  m.set64(0x5000 + 5 * 8, 0x1'2345'6000ull | P | RW | US | G);
  PagingContext c = ctx_pae();
  c.cr4 |= cr4::PGE;
  Translation t = translate(m, c, va, AccessKind::kWrite);
  ASSERT_TRUE(t.ok);
  EXPECT_EQ(t.gpa, 0x1'2345'6678ull);
  EXPECT_TRUE(t.global);
  EXPECT_EQ(m.u64(0x3028), 0x4000 | P);  // PAE PDPTEs have no accessed flag
  EXPECT_EQ(m.u64(0x4010), 0x5000 | P | RW | US | A);
  EXPECT_EQ(m.u64(0x5028), 0x1'2345'6000ull | P | RW | US | G | A | D);
}

TEST(PagingPae, TwoMiBPage) {
  TestMemory m;
  m.set64(0x3020, 0x4000 | P);
  m.set64(0x4000 + 7 * 8, 0x3'ffe0'0000ull | P | PS);
  Translation t = translate(m, ctx_pae(), (7 << 21) | 0x1abcde, AccessKind::kRead);
  ASSERT_TRUE(t.ok);
  EXPECT_EQ(t.gpa, 0x3'fffa'bcdeull);
  EXPECT_EQ(t.page_size, 2u << 20);
  EXPECT_FALSE(t.global);  // no G bit
  EXPECT_EQ(m.u64(0x4038), 0x3'ffe0'0000ull | P | PS | A);
}

TEST(PagingPae, PdpteReservedBits) {
  TestMemory m;
  m.set64(0x3020, 0x4000 | P | RW);  // bit 1 is reserved in a PAE PDPTE
  m.set64(0x4000, 0x5000 | P | PS);
  EXPECT_EQ(translate(m, ctx_pae(), 0x1000, AccessKind::kRead).error_code, EP | ERSVD);
  m.set64(0x3020, 0x4000 | P | A);  // bit 5 too
  EXPECT_EQ(translate(m, ctx_pae(), 0x1000, AccessKind::kRead).error_code, EP | ERSVD);
  m.set64(0x3020, 0x4000 | P | XD);  // bit 63 even with NXE
  PagingContext c = ctx_pae();
  c.efer = efer::NXE;
  EXPECT_EQ(translate(m, c, 0x1000, AccessKind::kRead).error_code, EP | ERSVD);
  m.set64(0x3020, 0x4000);  // not present
  EXPECT_EQ(translate(m, ctx_pae(true), 0x1000, AccessKind::kWrite).error_code, EW | EU);
  EXPECT_EQ(m.writes, 0);
}

TEST(PagingPae, XdBitReservedWithoutNxeAndHonouredWithIt) {
  TestMemory m;
  m.set64(0x3020, 0x4000 | P);
  m.set64(0x4000, 0x200000 | P | PS | RW | XD);
  PagingContext c = ctx_pae();
  EXPECT_EQ(translate(m, c, 0x1000, AccessKind::kRead).error_code, EP | ERSVD);
  EXPECT_EQ(translate(m, c, 0x1000, AccessKind::kExecute).error_code, EP | ERSVD);  // no I: NXE=0
  c.efer = efer::NXE;
  Translation t = translate(m, c, 0x1000, AccessKind::kRead);
  ASSERT_TRUE(t.ok);
  EXPECT_FALSE(t.executable);
  EXPECT_EQ(translate(m, c, 0x1000, AccessKind::kExecute).error_code, EP | EI);
}

TEST(PagingPae, BitsAboveMaxPhyAddrAreReservedUpTo62) {
  TestMemory m;
  m.set64(0x3020, 0x4000 | P);
  m.set64(0x4000, 0x5000 | P | RW);
  m.set64(0x5000 + 8, 0x6000 | P | (1ull << 55));  // ignored in 4-level, reserved in PAE
  EXPECT_EQ(translate(m, ctx_pae(), 0x1000, AccessKind::kRead).error_code, EP | ERSVD);
  m.set64(0x5000 + 8, 0x6000 | P | (1ull << 40));
  EXPECT_EQ(translate(m, ctx_pae(), 0x1000, AccessKind::kRead).error_code, EP | ERSVD);
  PagingContext c = ctx_pae();
  c.phys_addr_bits = 41;
  EXPECT_TRUE(translate(m, c, 0x1000, AccessKind::kRead).ok);
  m.set64(0x4000, 0x200000 | P | PS | (1ull << 13));  // 2 MiB page: bits 20:13 reserved
  EXPECT_EQ(translate(m, ctx_pae(), 0x1000, AccessKind::kRead).error_code, EP | ERSVD);
}

// --- 4-level paging ---

TEST(Paging64, FourKPageSetsAccessedOnEveryLevel) {
  TestMemory m;
  map64(m, P | RW | US);
  Translation t = translate(m, ctx64(), kVa64, AccessKind::kRead);
  ASSERT_TRUE(t.ok);
  EXPECT_EQ(t.gpa, 0xabcd9abu);
  EXPECT_EQ(t.page_size, 4096u);
  EXPECT_EQ(m.u64(kPml4e), 0x11000 | P | RW | US | A);
  EXPECT_EQ(m.u64(kPdpte), 0x12000 | P | RW | US | A);
  EXPECT_EQ(m.u64(kPde), 0x13000 | P | RW | US | A);
  EXPECT_EQ(m.u64(kPte), 0xabcd000 | P | RW | US | A);
  EXPECT_EQ(m.writes, 4);
  // Already accessed: a second read writes nothing; a write sets only the leaf's D.
  translate(m, ctx64(), kVa64, AccessKind::kRead);
  EXPECT_EQ(m.writes, 4);
  ASSERT_TRUE(translate(m, ctx64(), kVa64, AccessKind::kWrite).ok);
  EXPECT_EQ(m.writes, 5);
  EXPECT_EQ(m.u64(kPte), 0xabcd000 | P | RW | US | A | D);
  EXPECT_EQ(m.u64(kPde), 0x13000 | P | RW | US | A);
}

TEST(Paging64, TwoMiBAndOneGiBPages) {
  TestMemory m;
  map64(m, P);
  m.set64(kPde, 0x7'0040'0000ull | P | RW | PS | G);
  PagingContext c = ctx64();
  c.cr4 |= cr4::PGE;
  Translation t = translate(m, c, kVa64, AccessKind::kWrite);
  ASSERT_TRUE(t.ok);
  EXPECT_EQ(t.page_size, 2u << 20);
  EXPECT_EQ(t.gpa, 0x7'0040'0000ull | (4 << 12) | 0x9ab);
  EXPECT_TRUE(t.global);
  EXPECT_FALSE(t.user);  // PDE has U/S=0
  EXPECT_EQ(m.u64(kPde), 0x7'0040'0000ull | P | RW | PS | G | A | D);

  m.set64(kPdpte, 0x40'8000'0000ull | P | RW | PS);
  t = translate(m, c, kVa64, AccessKind::kRead);
  ASSERT_TRUE(t.ok);
  EXPECT_EQ(t.page_size, 1u << 30);
  EXPECT_EQ(t.gpa, 0x40'8000'0000ull | (3ull << 21) | (4 << 12) | 0x9ab);
  EXPECT_FALSE(t.global);
  EXPECT_EQ(m.u64(kPdpte), 0x40'8000'0000ull | P | RW | PS | A);
}

TEST(Paging64, LargePageReservedAddressBits) {
  TestMemory m;
  map64(m, P);
  m.set64(kPdpte, 0x4000'0000ull | (1ull << 29) | P | PS);  // 1 GiB: bits 29:13 reserved
  EXPECT_EQ(translate(m, ctx64(), kVa64, AccessKind::kRead).error_code, EP | ERSVD);
  m.set64(kPdpte, 0x4000'0000ull | (1ull << 12) | P | PS);  // bit 12 is PAT: fine
  EXPECT_TRUE(translate(m, ctx64(), kVa64, AccessKind::kRead).ok);
  map64(m, P);
  m.set64(kPde, 0x20'0000ull | (1ull << 20) | P | PS);  // 2 MiB: bits 20:13 reserved
  EXPECT_EQ(translate(m, ctx64(true), kVa64, AccessKind::kRead).error_code, EP | ERSVD | EU);
  map64(m, P);
  m.set64(kPml4e, 0x11000 | P | PS);  // PS is reserved in a PML4E
  EXPECT_EQ(translate(m, ctx64(), kVa64, AccessKind::kWrite).error_code, EP | ERSVD | EW);
}

TEST(Paging64, ReservedBitsAboveMaxPhyAddrAndXd) {
  TestMemory m;
  map64(m, P | (1ull << 45));
  PagingContext c = ctx64();
  c.phys_addr_bits = 46;
  EXPECT_TRUE(translate(m, c, kVa64, AccessKind::kRead).ok);
  c.phys_addr_bits = 40;
  EXPECT_EQ(translate(m, c, kVa64, AccessKind::kRead).error_code, EP | ERSVD);
  map64(m, P | (1ull << 52));  // 62:52 are ignored in 4-level paging
  EXPECT_TRUE(translate(m, c, kVa64, AccessKind::kRead).ok);
  map64(m, P | XD);
  EXPECT_EQ(translate(m, c, kVa64, AccessKind::kRead).error_code, EP | ERSVD);
  c.efer |= efer::NXE;
  EXPECT_TRUE(translate(m, c, kVa64, AccessKind::kRead).ok);
  // A reserved bit in a not-present entry is not checked: plain not-present fault.
  map64(m, P);
  m.set64(kPte, XD | (1ull << 45));
  c.efer &= ~efer::NXE;
  EXPECT_EQ(translate(m, c, kVa64, AccessKind::kRead).error_code, 0u);
}

TEST(Paging64, NonCanonicalAddressIsNotAPageFault) {
  TestMemory m;
  map64(m, P | RW);
  Translation t = translate(m, ctx64(), 0x0000800000000000ull, AccessKind::kRead);
  EXPECT_FALSE(t.ok);
  EXPECT_TRUE(t.non_canonical);
  EXPECT_EQ(m.writes, 0);
  EXPECT_TRUE(is_canonical(0x00007fffffffffffull));
  EXPECT_TRUE(is_canonical(0xffff800000000000ull));
  EXPECT_FALSE(is_canonical(0x0000800000000000ull));
  EXPECT_FALSE(is_canonical(0xfff0800000000000ull));
  EXPECT_FALSE(translate(m, ctx64(), kVa64, AccessKind::kRead).non_canonical);
}

TEST(Paging64, TableOutsideMemoryIsAMemoryError) {
  TestMemory m;
  PagingContext c = ctx64();
  c.cr3 = 0x8000'0000;  // beyond the 2 MiB test memory
  Translation t = translate(m, c, kVa64, AccessKind::kRead);
  EXPECT_FALSE(t.ok);
  EXPECT_TRUE(t.memory_error);
  EXPECT_EQ(t.error_code, EP | ERSVD);
}

// --- error codes ---

TEST(PageFaultErrorCode, NotPresentAtEachLevel) {
  TestMemory m;
  PagingContext c = ctx64();
  c.efer |= efer::NXE;
  for (uint64_t entry : {kPml4e, kPdpte, kPde, kPte}) {
    map64(m, P | RW | US);
    m.set64(entry, m.u64(entry) & ~P);
    int before = m.writes;
    c.user = false;
    EXPECT_EQ(translate(m, c, kVa64, AccessKind::kRead).error_code, 0u) << entry;
    EXPECT_EQ(translate(m, c, kVa64, AccessKind::kWrite).error_code, EW) << entry;
    EXPECT_EQ(translate(m, c, kVa64, AccessKind::kExecute).error_code, EI) << entry;
    c.user = true;
    EXPECT_EQ(translate(m, c, kVa64, AccessKind::kRead).error_code, EU) << entry;
    EXPECT_EQ(translate(m, c, kVa64, AccessKind::kWrite).error_code, EU | EW) << entry;
    EXPECT_EQ(translate(m, c, kVa64, AccessKind::kExecute).error_code, EU | EI) << entry;
    EXPECT_EQ(m.writes, before) << "no A/D update on a fault";
  }
  // Without NXE and SMEP, instruction fetches are not flagged.
  c.efer &= ~efer::NXE;
  EXPECT_EQ(translate(m, c, kVa64, AccessKind::kExecute).error_code, EU);
}

TEST(PageFaultErrorCode, UserAndWriteRightsCombineOverAllLevels) {
  TestMemory m;
  map64(m, P | RW | US, P | RW);  // upper levels supervisor-only
  EXPECT_EQ(translate(m, ctx64(true), kVa64, AccessKind::kRead).error_code, EP | EU);
  map64(m, P | RW | US);
  m.set64(kPdpte, 0x12000 | P | US);  // read-only at the PDPT level
  Translation t = translate(m, ctx64(true), kVa64, AccessKind::kRead);
  ASSERT_TRUE(t.ok);
  EXPECT_FALSE(t.writable);
  EXPECT_TRUE(t.user);
  TestMemory before = m;
  EXPECT_EQ(translate(m, ctx64(true), kVa64, AccessKind::kWrite).error_code, EP | EW | EU);
  EXPECT_EQ(m.bytes, before.bytes) << "a faulting write sets neither A nor D";
}

TEST(PageFaultErrorCode, WriteProtectForSupervisor) {
  TestMemory m;
  map64(m, P | US);  // read-only leaf
  PagingContext c = ctx64();
  EXPECT_EQ(translate(m, c, kVa64, AccessKind::kWrite).error_code, EP | EW);
  c.cr0 &= ~cr0::WP;
  Translation t = translate(m, c, kVa64, AccessKind::kWrite);
  ASSERT_TRUE(t.ok);
  EXPECT_TRUE(t.writable);
  EXPECT_EQ(m.u64(kPte), 0xabcd000 | P | US | A | D);
  // WP never lets user code write a read-only page.
  c.user = true;
  EXPECT_EQ(translate(m, c, kVa64, AccessKind::kWrite).error_code, EP | EW | EU);
}

TEST(PageFaultErrorCode, NoExecute) {
  TestMemory m;
  map64(m, P | RW | US);
  m.set64(kPde, m.u64(kPde) | XD);  // XD on an upper level covers the whole region
  PagingContext c = ctx64();
  c.efer |= efer::NXE;
  EXPECT_EQ(translate(m, c, kVa64, AccessKind::kExecute).error_code, EP | EI);
  c.user = true;
  EXPECT_EQ(translate(m, c, kVa64, AccessKind::kExecute).error_code, EP | EU | EI);
  Translation t = translate(m, c, kVa64, AccessKind::kWrite);
  ASSERT_TRUE(t.ok);
  EXPECT_FALSE(t.executable);
  m.set64(kPde, m.u64(kPde) & ~XD);
  EXPECT_TRUE(translate(m, c, kVa64, AccessKind::kExecute).executable);
}

TEST(PageFaultErrorCode, Smep) {
  TestMemory m;
  map64(m, P | RW | US);
  PagingContext c = ctx64();
  EXPECT_TRUE(translate(m, c, kVa64, AccessKind::kExecute).ok);
  c.cr4 |= cr4::SMEP;
  EXPECT_EQ(translate(m, c, kVa64, AccessKind::kExecute).error_code, EP | EI);  // I even without NXE
  Translation t = translate(m, c, kVa64, AccessKind::kRead);
  ASSERT_TRUE(t.ok);
  EXPECT_FALSE(t.executable);
  c.user = true;
  EXPECT_TRUE(translate(m, c, kVa64, AccessKind::kExecute).ok);  // SMEP is for supervisor only
  map64(m, P | RW, P | RW | US);  // supervisor leaf
  c.user = false;
  EXPECT_TRUE(translate(m, c, kVa64, AccessKind::kExecute).ok);
}

TEST(PageFaultErrorCode, Smap) {
  TestMemory m;
  map64(m, P | RW | US);
  PagingContext c = ctx64();
  c.cr4 |= cr4::SMAP;
  EXPECT_EQ(translate(m, c, kVa64, AccessKind::kRead).error_code, EP);
  EXPECT_EQ(translate(m, c, kVa64, AccessKind::kWrite).error_code, EP | EW);
  EXPECT_TRUE(translate(m, c, kVa64, AccessKind::kExecute).ok);  // fetches are SMEP's business
  c.ac_flag = true;
  Translation t = translate(m, c, kVa64, AccessKind::kWrite);
  ASSERT_TRUE(t.ok);
  EXPECT_TRUE(t.writable);
  c.implicit_supervisor = true;  // descriptor-table access: AC does not help
  EXPECT_EQ(translate(m, c, kVa64, AccessKind::kRead).error_code, EP);
  c.implicit_supervisor = false;
  c.ac_flag = false;
  c.user = true;
  EXPECT_TRUE(translate(m, c, kVa64, AccessKind::kWrite).ok);  // user accesses are unaffected
  map64(m, P | RW, P | RW | US);  // supervisor page: SMAP does not apply
  c.user = false;
  EXPECT_TRUE(translate(m, c, kVa64, AccessKind::kWrite).ok);
}

TEST(PhysicalMemoryAccess, DefaultReadBytesHandlesUnalignedRanges) {
  TestMemory m;
  for (int i = 0; i < 16; ++i) m.bytes[0x100 + i] = uint8_t(0xa0 + i);
  uint8_t out[7] = {};
  ASSERT_TRUE(m.PhysicalMemoryAccess::read_bytes(0x103, out, sizeof out));
  for (int i = 0; i < 7; ++i) EXPECT_EQ(out[i], 0xa3 + i);
  EXPECT_FALSE(m.PhysicalMemoryAccess::read_bytes(m.bytes.size() - 2, out, 4));
  EXPECT_TRUE(m.PhysicalMemoryAccess::read_bytes(m.bytes.size() - 2, out, 2));
}
