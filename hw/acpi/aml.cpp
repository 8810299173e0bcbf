#include "hw/acpi/aml.h"

#include <stdexcept>
#include <string>

namespace janus::aml {

namespace {

constexpr size_t kMaxPkgLength = (size_t{1} << 28) - 1;

Bytes with_pkg_length(std::initializer_list<uint8_t> opcode, const Bytes& body) {
  Bytes out(opcode);
  append(out, pkg_length(body.size()));
  append(out, body);
  return out;
}

void append_segment(Bytes& out, std::string_view seg, std::string_view path) {
  if (seg.empty() || seg.size() > 4)
    throw std::invalid_argument("aml: bad name segment '" + std::string(seg) + "' in '" + std::string(path) + "'");
  for (size_t i = 0; i < 4; i++) out.push_back(i < seg.size() ? uint8_t(seg[i]) : uint8_t('_'));
}

}  // namespace

void append(Bytes& a, const Bytes& b) { a.insert(a.end(), b.begin(), b.end()); }

Bytes pkg_length(size_t body_length) {
  for (unsigned extra = 0; extra <= 3; extra++) {
    size_t total = body_length + 1 + extra;
    if (total > kMaxPkgLength) break;
    if (extra == 0) {
      if (total <= 0x3f) return {uint8_t(total)};
      continue;
    }
    if (total >= (size_t{1} << (4 + 8 * extra))) continue;
    Bytes out{uint8_t(extra << 6 | (total & 0xf))};
    for (unsigned i = 0; i < extra; i++) out.push_back(uint8_t(total >> (4 + 8 * i)));
    return out;
  }
  throw std::length_error("aml: package of " + std::to_string(body_length) + " bytes is too long");
}

Bytes name_string(std::string_view path) {
  Bytes out;
  std::string_view rest = path;
  if (!rest.empty() && rest[0] == '\\') {
    out.push_back(kRootChar);
    rest.remove_prefix(1);
  } else {
    while (!rest.empty() && rest[0] == '^') {
      out.push_back(kParentPrefixChar);
      rest.remove_prefix(1);
    }
  }
  std::vector<std::string_view> segs;
  while (!rest.empty()) {
    size_t dot = rest.find('.');
    segs.push_back(rest.substr(0, dot));
    if (dot == std::string_view::npos) break;
    rest.remove_prefix(dot + 1);
    if (rest.empty()) segs.push_back(rest);  // trailing '.': an empty segment, rejected below
  }
  if (segs.empty()) {
    out.push_back(0x00);  // NullName
    return out;
  }
  if (segs.size() == 2) out.push_back(kDualNamePrefix);
  if (segs.size() > 2) {
    if (segs.size() > 255) throw std::invalid_argument("aml: too many name segments in '" + std::string(path) + "'");
    out.push_back(kMultiNamePrefix);
    out.push_back(uint8_t(segs.size()));
  }
  for (auto seg : segs) append_segment(out, seg, path);
  return out;
}

Bytes integer(uint64_t value) {
  if (value == 0) return {kZeroOp};
  if (value == 1) return {kOneOp};
  auto le = [&](uint8_t prefix, unsigned bytes) {
    Bytes out{prefix};
    for (unsigned i = 0; i < bytes; i++) out.push_back(uint8_t(value >> (8 * i)));
    return out;
  };
  if (value <= 0xff) return le(kBytePrefix, 1);
  if (value <= 0xffff) return le(kWordPrefix, 2);
  if (value <= 0xffffffff) return le(kDWordPrefix, 4);
  return le(kQWordPrefix, 8);
}

Bytes string(std::string_view text) {
  Bytes out{kStringPrefix};
  for (char c : text) {
    if (c == 0 || static_cast<unsigned char>(c) > 0x7f) throw std::invalid_argument("aml: strings are 7-bit ASCII without NUL");
    out.push_back(uint8_t(c));
  }
  out.push_back(0);
  return out;
}

Bytes eisa_id(std::string_view id) {
  auto bad = [&] { return std::invalid_argument("aml: bad EISA ID '" + std::string(id) + "'"); };
  if (id.size() != 7) throw bad();
  uint32_t letters = 0;  // 5 bits per letter, 'A' = 1
  for (size_t i = 0; i < 3; i++) {
    if (id[i] < 'A' || id[i] > 'Z') throw bad();
    letters = letters << 5 | uint32_t(id[i] - 'A' + 1);
  }
  uint32_t product = 0;
  for (size_t i = 3; i < 7; i++) {
    char c = id[i];
    uint32_t digit = c >= '0' && c <= '9' ? uint32_t(c - '0') : c >= 'A' && c <= 'F' ? uint32_t(c - 'A' + 10) : 16;
    if (digit > 15) throw bad();
    product = product << 4 | digit;
  }
  // The 15 letter bits then the 16 product bits, most significant byte first (so a DWordConst
  // whose bytes read 41 D0 0A 03 for PNP0A03).
  uint32_t id_bits = letters << 16 | product;
  Bytes out{kDWordPrefix};
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(uint8_t(id_bits >> shift));
  return out;
}

Bytes buffer(const Bytes& bytes) {
  Bytes body = integer(bytes.size());
  append(body, bytes);
  return with_pkg_length({kBufferOp}, body);
}

Bytes name(std::string_view path, const Bytes& object) {
  Bytes out{kNameOp};
  append(out, name_string(path));
  append(out, object);
  return out;
}

Bytes package(std::initializer_list<Bytes> elements) {
  if (elements.size() > 255) throw std::length_error("aml: Package() holds at most 255 elements");
  Bytes body{uint8_t(elements.size())};
  for (const Bytes& e : elements) append(body, e);
  return with_pkg_length({kPackageOp}, body);
}

Bytes scope(std::string_view path, const Bytes& terms) {
  Bytes body = name_string(path);
  append(body, terms);
  return with_pkg_length({kScopeOp}, body);
}

Bytes device(std::string_view path, const Bytes& terms) {
  Bytes body = name_string(path);
  append(body, terms);
  return with_pkg_length({kExtOpPrefix, kDeviceOp}, body);
}

}  // namespace janus::aml
