#include "tcg/x87_state.h"

#include <cstring>

namespace janus::tcg::x87 {

namespace {

template <typename T> void put(std::span<uint8_t> out, unsigned at, T v) { std::memcpy(out.data() + at, &v, sizeof v); }
template <typename T> T get(std::span<const uint8_t> in, unsigned at) {
  T v;
  std::memcpy(&v, in.data() + at, sizeof v);
  return v;
}

// Tag of one 80-bit value: 00 valid (normal), 01 zero, 10 special (NaN, infinity, denormal,
// unnormal, pseudo-denormal).
unsigned classify(const std::array<uint8_t, 16>& r) {
  uint64_t mant;
  std::memcpy(&mant, r.data(), 8);
  unsigned exp = (r[8] | (r[9] << 8)) & 0x7fff;
  if (exp == 0x7fff) return 2;
  if (exp == 0) return mant == 0 ? 1 : 2;
  return (mant >> 63) ? 0 : 2;
}

// The FNSTENV images keep reserved upper halves of the 32-bit fields at all ones (this host).
constexpr uint32_t kReservedHigh = 0xffff0000u;

}  // namespace

void set_top(FxState& fx, unsigned top) {
  unsigned old = top_of(fx);
  auto st = fx.st;
  for (unsigned i = 0; i < 8; ++i) fx.st[i] = st[(top + i - old) & 7];
  fx.fsw = uint16_t((fx.fsw & ~kFswTopMask) | ((top & 7) << kFswTopShift));
}

uint16_t full_tag_word(const FxState& fx) {
  unsigned top = top_of(fx);
  uint16_t tags = 0;
  for (unsigned phys = 0; phys < 8; ++phys) {
    unsigned tag = (fx.ftw >> phys) & 1 ? classify(fx.st[(phys - top) & 7]) : 3;
    tags |= uint16_t(tag << (2 * phys));
  }
  return tags;
}

uint8_t abridged_tag(uint16_t full) {
  uint8_t t = 0;
  for (unsigned phys = 0; phys < 8; ++phys)
    if (((full >> (2 * phys)) & 3) != 3) t |= uint8_t(1u << phys);
  return t;
}

void derive_error_summary(FxState& fx) {
  bool pending = fx.fsw & ~fx.fcw & 0x3f;
  fx.fsw = uint16_t((fx.fsw & ~0x8080) | (pending ? 0x8080 : 0));
}

void fninit(FxState& fx) {
  set_top(fx, 0);
  fx.fcw = 0x037f;
  fx.fsw = 0;
  fx.ftw = 0;
  fx.fop = 0;
  fx.fip = 0;
  fx.fdp = 0;
}

void store_env(const FxState& fx, EnvFormat f, std::span<uint8_t> out) {
  uint16_t tags = full_tag_word(fx);
  uint32_t ip = uint32_t(fx.fip), dp = uint32_t(fx.fdp);
  uint16_t fop = fx.fop & 0x7ff;
  if (f.op32) {
    put<uint32_t>(out, 0, kReservedHigh | fx.fcw);
    put<uint32_t>(out, 4, kReservedHigh | fx.fsw);
    put<uint32_t>(out, 8, kReservedHigh | tags);
    if (f.real_mode) {
      put<uint32_t>(out, 12, kReservedHigh | (ip & 0xffff));
      put<uint32_t>(out, 16, ((ip >> 16) << 12) | fop);
      put<uint32_t>(out, 20, kReservedHigh | (dp & 0xffff));
      put<uint32_t>(out, 24, (dp >> 16) << 12);
    } else {
      put<uint32_t>(out, 12, ip);
      put<uint32_t>(out, 16, uint32_t(fop) << 16);  // FCS: 0 (this CPU deprecates FCS/FDS)
      put<uint32_t>(out, 20, dp);
      put<uint32_t>(out, 24, kReservedHigh);        // FDS: 0
    }
    return;
  }
  put<uint16_t>(out, 0, fx.fcw);
  put<uint16_t>(out, 2, fx.fsw);
  put<uint16_t>(out, 4, tags);
  if (f.real_mode) {
    put<uint16_t>(out, 6, uint16_t(ip));
    put<uint16_t>(out, 8, uint16_t((((ip >> 16) & 0xf) << 12) | fop));
    put<uint16_t>(out, 10, uint16_t(dp));
    put<uint16_t>(out, 12, uint16_t(((dp >> 16) & 0xf) << 12));
  } else {
    put<uint16_t>(out, 6, uint16_t(ip));
    put<uint16_t>(out, 8, 0);
    put<uint16_t>(out, 10, uint16_t(dp));
    put<uint16_t>(out, 12, 0);
  }
}

void load_env(FxState& fx, EnvFormat f, std::span<const uint8_t> in) {
  uint16_t fcw, fsw, tags;
  uint32_t ip, dp;
  uint16_t fop = 0;
  if (f.op32) {
    fcw = get<uint16_t>(in, 0);
    fsw = get<uint16_t>(in, 4);
    tags = get<uint16_t>(in, 8);
    if (f.real_mode) {
      ip = (get<uint32_t>(in, 12) & 0xffff) | (((get<uint32_t>(in, 16) >> 12) & 0xffff) << 16);
      fop = get<uint32_t>(in, 16) & 0x7ff;
      dp = (get<uint32_t>(in, 20) & 0xffff) | (((get<uint32_t>(in, 24) >> 12) & 0xffff) << 16);
    } else {
      ip = get<uint32_t>(in, 12);
      fop = (get<uint32_t>(in, 16) >> 16) & 0x7ff;
      dp = get<uint32_t>(in, 20);
    }
  } else {
    fcw = get<uint16_t>(in, 0);
    fsw = get<uint16_t>(in, 2);
    tags = get<uint16_t>(in, 4);
    ip = get<uint16_t>(in, 6);
    dp = get<uint16_t>(in, 10);
    if (f.real_mode) {
      ip |= uint32_t(get<uint16_t>(in, 8) >> 12) << 16;
      fop = get<uint16_t>(in, 8) & 0x7ff;
      dp |= uint32_t(get<uint16_t>(in, 12) >> 12) << 16;
    }
  }
  set_top(fx, (fsw >> kFswTopShift) & 7);  // registers stay in their physical slots
  fx.fcw = fcw;
  fx.fsw = fsw;
  fx.ftw = abridged_tag(tags);
  fx.fip = ip;
  fx.fdp = dp;
  fx.fop = fop;
  derive_error_summary(fx);
}

void store_fxsave(const FxState& fx, bool rex_w, unsigned xmm_count, std::span<uint8_t, 512> out) {
  std::memset(out.data(), 0, out.size());
  put<uint16_t>(out, 0, fx.fcw);
  put<uint16_t>(out, 2, fx.fsw);
  put<uint8_t>(out, 4, fx.ftw);
  put<uint16_t>(out, 6, fx.fop);
  if (rex_w) {
    put<uint64_t>(out, 8, fx.fip);
    put<uint64_t>(out, 16, fx.fdp);
  } else {  // 32-bit offsets; FCS and FDS (bytes 12, 20) are 0 on this CPU
    put<uint32_t>(out, 8, uint32_t(fx.fip));
    put<uint32_t>(out, 16, uint32_t(fx.fdp));
  }
  put<uint32_t>(out, 24, fx.mxcsr);
  put<uint32_t>(out, 28, kMxcsrMask);
  for (unsigned i = 0; i < 8; ++i) std::memcpy(out.data() + 32 + 16 * i, fx.st[i].data(), 10);
  for (unsigned i = 0; i < xmm_count; ++i) std::memcpy(out.data() + 160 + 16 * i, fx.xmm[i].data(), 16);
}

void load_fxsave(FxState& fx, bool rex_w, bool with_sse, unsigned xmm_count, std::span<const uint8_t, 512> in) {
  fx.fcw = get<uint16_t>(in, 0);
  fx.fsw = get<uint16_t>(in, 2);
  fx.ftw = get<uint8_t>(in, 4);
  fx.fop = get<uint16_t>(in, 6) & 0x7ff;
  fx.fip = rex_w ? get<uint64_t>(in, 8) : get<uint32_t>(in, 8);
  fx.fdp = rex_w ? get<uint64_t>(in, 16) : get<uint32_t>(in, 16);
  derive_error_summary(fx);
  for (unsigned i = 0; i < 8; ++i) {
    fx.st[i] = {};
    std::memcpy(fx.st[i].data(), in.data() + 32 + 16 * i, 10);
  }
  if (!with_sse) return;
  fx.mxcsr = get<uint32_t>(in, 24);
  for (unsigned i = 0; i < xmm_count; ++i) std::memcpy(fx.xmm[i].data(), in.data() + 160 + 16 * i, 16);
}

}  // namespace janus::tcg::x87
