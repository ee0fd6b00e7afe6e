// The fashion profile of `encore generate` (docs/PERSONALIZATION.md, "Data"):
// a flash-sale retailer's catalog, members and events with planted structure.
//
// Files (CSV with a header, in this order):
//   catalog.csv  product,division,department,class,subclass,brand,price,launch_time,
//                available_from,available_until,quantity,times_sold,returns,cancellations
//   members.csv  member,primary_division,spend_level,intent_subclass   (the planted truth)
//   events.csv   member,product,event,timestamp
//
// Everything is a function of (seed, users, items, rows): one sequential
// xoshiro stream per file, so the bytes never depend on threads.

#include "data/fashion.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <numbers>
#include <string>
#include <vector>

#include "util/random.h"

namespace encore {
namespace {

// ------------------------------------------------------------ the planted world
// Every constant is documented in docs/PERSONALIZATION.md ("What the fashion
// generator plants"); changing one changes the output for a seed.
constexpr int64_t kAsOf = 1780272000;  // 2026-06-01T00:00:00Z
constexpr int64_t kDay = 86400;
constexpr int64_t kSaleHours = 72;
constexpr int kLaunchDays = 30;  // launches on days -29..+1 relative to kAsOf
constexpr int64_t kLaunchHour = 8;
constexpr int kDepartmentsPerDivision = 3;
constexpr int kClassesPerDepartment = 3;
constexpr int kSubclassesPerClass = 4;
constexpr const char* kDivisions[] = {"women", "men", "kids", "home", "beauty"};
constexpr double kDivisionMix[] = {0.55, 0.15, 0.12, 0.10, 0.08};
constexpr int kNumDivisions = 5;
constexpr double kInPrimaryDivision = 0.85;  // else a gift in another division
constexpr double kInFavourite = 0.6;         // primary-division events in a favourite subclass
constexpr int kFavourites = 3;
constexpr double kIntentShare = 0.10;  // events that are recent, unpurchased intent
constexpr int64_t kIntentDays = 10;
constexpr double kSoldDown = 0.25;   // products on sale whose stock is nearly gone (0..2)
constexpr int kPriceCandidates = 4;  // products compared to the member's spending level

class Rng : public Xoshiro256 {
 public:
  Rng(uint64_t seed, uint64_t stream) : Xoshiro256(seed * 0x9E3779B97F4A7C15ull + stream) {}
  double Normal() {
    const double u1 = 1.0 - Uniform(), u2 = Uniform();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * std::numbers::pi * u2);
  }
  int Pick(const double* weights, int n) {
    double u = Uniform(), acc = 0;
    for (int i = 0; i < n; ++i) {
      acc += weights[i];
      if (u < acc) return i;
    }
    return n - 1;
  }
};

std::string Id(char prefix, uint64_t index, uint64_t count) {
  const int width = std::max<int>(1, static_cast<int>(std::to_string(count).size()));
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%c%0*llu", prefix, width,
                static_cast<unsigned long long>(index + 1));
  return buf;
}

struct Subclass {
  int division;
  std::string department, cls, name;
  double log_price;            // the subclass's typical log price
  std::vector<uint32_t> past;  // products launched before kAsOf
};

struct Product {
  int subclass;
  uint32_t brand;
  double price;
  int64_t launch, from, until, quantity;
  uint64_t times_sold, returns, cancellations;
};

struct Member {
  int division;
  double spend;  // log-price offset
  int spend_level;
  int favourites[kFavourites];
  int intent;  // subclass
  double activity;
};

class File {
 public:
  File(const std::string& dir, const char* name) : path_(dir + "/" + name), tmp_(path_ + ".tmp") {
    f_ = std::fopen(tmp_.c_str(), "wb");
  }
  ~File() {
    if (f_ != nullptr) std::fclose(f_);
  }
  bool ok() const { return f_ != nullptr; }
  void Line(const std::string& s) {
    buf_ += s;
    buf_ += '\n';
    if (buf_.size() > (1 << 20)) Flush();
  }
  void Row() { ++rows_; }
  Status Close(GenerateReport* report) {
    Flush();
    const bool bad = std::ferror(f_) != 0;
    if (std::fclose(f_) != 0 || bad) {
      f_ = nullptr;
      return Status::IOError("cannot write " + tmp_);
    }
    f_ = nullptr;
    std::error_code ec;
    std::filesystem::rename(tmp_, path_, ec);
    if (ec) return Status::IOError("cannot rename " + tmp_ + ": " + ec.message());
    GeneratedFile g;
    g.path = path_;
    g.rows = rows_;
    g.bytes = std::filesystem::file_size(path_, ec);
    report->rows += g.rows;
    report->bytes += g.bytes;
    report->files.push_back(g);
    return Status::OK();
  }
  const std::string& tmp() const { return tmp_; }

 private:
  void Flush() {
    if (!buf_.empty()) std::fwrite(buf_.data(), 1, buf_.size(), f_);
    buf_.clear();
  }
  std::string path_, tmp_, buf_;
  std::FILE* f_ = nullptr;
  uint64_t rows_ = 0;
};

std::string Cents(double price) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.2f", price);
  return buf;
}

}  // namespace

int64_t FashionAsOf() { return kAsOf; }

Result<GenerateReport> GenerateFashion(const GenerateOptions& options, Progress* progress) {
  const uint64_t seed = options.seed;
  // ---- hierarchy
  std::vector<Subclass> subclasses;
  std::vector<std::vector<int>> division_subclasses(kNumDivisions);
  Rng hr(seed, 1);
  for (int d = 0; d < kNumDivisions; ++d) {
    for (int dep = 0; dep < kDepartmentsPerDivision; ++dep) {
      const std::string department = std::string(kDivisions[d]) + "-d" + std::to_string(dep + 1);
      for (int c = 0; c < kClassesPerDepartment; ++c) {
        const std::string cls = department + "-c" + std::to_string(c + 1);
        for (int s = 0; s < kSubclassesPerClass; ++s) {
          Subclass sc{d,
                      department,
                      cls,
                      cls + "-s" + std::to_string(s + 1),
                      std::log(20.0) + 2.0 * hr.Uniform(),
                      {}};
          division_subclasses[d].push_back(static_cast<int>(subclasses.size()));
          subclasses.push_back(std::move(sc));
        }
      }
    }
  }
  // ---- brands: each has a home division, a price tier and a few subclasses
  const uint32_t num_brands = static_cast<uint32_t>(std::max<uint64_t>(10, options.items / 25));
  std::vector<int> brand_division(num_brands);
  std::vector<double> brand_tier(num_brands);
  std::vector<std::vector<int>> brand_subclasses(num_brands);
  std::vector<std::vector<uint32_t>> division_brands(kNumDivisions);
  for (uint32_t b = 0; b < num_brands; ++b) {
    brand_division[b] = hr.Pick(kDivisionMix, kNumDivisions);
    brand_tier[b] = 0.5 * hr.Normal();
    const std::vector<int>& subs = division_subclasses[brand_division[b]];
    const int k = 2 + static_cast<int>(hr.Below(5));
    for (int i = 0; i < k; ++i) brand_subclasses[b].push_back(subs[hr.Below(subs.size())]);
    division_brands[brand_division[b]].push_back(b);
  }
  for (int d = 0; d < kNumDivisions; ++d) {
    if (division_brands[d].empty()) {  // tiny catalogs: every division sells something
      const uint32_t b = static_cast<uint32_t>(d) % num_brands;
      brand_subclasses[b].push_back(division_subclasses[d][0]);
      division_brands[d].push_back(b);
    }
  }
  // ---- products
  const uint64_t num_products = options.items;
  std::vector<Product> products(num_products);
  Rng pr(seed, 2);
  for (uint64_t p = 0; p < num_products; ++p) {
    Product& x = products[p];
    const int d = pr.Pick(kDivisionMix, kNumDivisions);
    const std::vector<uint32_t>& brands = division_brands[d];
    // Zipf-like brand sizes: the first brands of a division are the big ones.
    const double u = pr.Uniform();
    x.brand =
        brands[std::min<uint64_t>(brands.size() - 1, static_cast<uint64_t>(brands.size() * u * u))];
    const std::vector<int>& subs = brand_subclasses[x.brand];
    std::vector<int> in_division;
    for (int s : subs) {
      if (subclasses[s].division == d) in_division.push_back(s);
    }
    x.subclass = in_division.empty()
                     ? division_subclasses[d][pr.Below(division_subclasses[d].size())]
                     : in_division[pr.Below(in_division.size())];
    x.price = std::exp(subclasses[x.subclass].log_price + brand_tier[x.brand] + 0.35 * pr.Normal());
    x.price = std::max(1.0, std::round(x.price * 100) / 100);
    const int64_t day = static_cast<int64_t>(pr.Below(kLaunchDays + 1)) - (kLaunchDays - 1);
    x.from = kAsOf + day * kDay + kLaunchHour * 3600;
    x.until = x.from + kSaleHours * 3600;
    x.times_sold = pr.Chance(0.5) ? 0 : static_cast<uint64_t>(std::exp(2.0 + pr.Normal()));
    x.launch =
        x.times_sold == 0 ? x.from : x.from - static_cast<int64_t>(1 + pr.Below(12)) * 30 * kDay;
    x.returns = static_cast<uint64_t>(x.times_sold * 0.15 * pr.Uniform());
    x.cancellations = static_cast<uint64_t>(x.times_sold * 0.05 * pr.Uniform());
    const bool current = x.until > kAsOf;
    if (!current || pr.Chance(kSoldDown)) {
      x.quantity = static_cast<int64_t>(pr.Below(3));
    } else {
      x.quantity = 3 + static_cast<int64_t>(pr.Below(58));
    }
    if (x.from < kAsOf) subclasses[x.subclass].past.push_back(static_cast<uint32_t>(p));
  }
  std::vector<std::vector<int>> live_subclasses(kNumDivisions);  // with past products
  for (int d = 0; d < kNumDivisions; ++d) {
    for (int s : division_subclasses[d]) {
      if (!subclasses[s].past.empty()) live_subclasses[d].push_back(s);
    }
  }
  std::vector<int> live_divisions;
  for (int d = 0; d < kNumDivisions; ++d) {
    if (!live_subclasses[d].empty()) live_divisions.push_back(d);
  }
  if (live_divisions.empty()) {
    return Status::InvalidArgument(
        "fashion: no product launched before the as-of time; use more "
        "--items (at least 40)");
  }
  // ---- members
  std::vector<Member> members(options.users);
  Rng mr(seed, 3);
  std::vector<double> cdf(options.users);
  double total = 0;
  for (uint64_t m = 0; m < options.users; ++m) {
    Member& x = members[m];
    do {
      x.division = mr.Pick(kDivisionMix, kNumDivisions);
    } while (live_subclasses[x.division].empty());
    x.spend = 0.6 * mr.Normal();
    x.spend_level = std::clamp(static_cast<int>(std::floor((x.spend / 0.6 + 2.5))), 0, 4) + 1;
    const std::vector<int>& subs = live_subclasses[x.division];
    for (int& f : x.favourites) f = subs[mr.Below(subs.size())];
    x.intent = subs[mr.Below(subs.size())];
    x.activity = 1.0 / (static_cast<double>(mr.Below(options.users)) + 10.0);
    total += x.activity;
    cdf[m] = total;
  }
  for (double& c : cdf) c /= total;

  GenerateReport report;
  const std::string dir = options.out_dir;
  {
    File f(dir, "catalog.csv");
    if (!f.ok()) return Status::IOError("cannot create " + f.tmp());
    f.Line(
        "product,division,department,class,subclass,brand,price,launch_time,available_from,"
        "available_until,quantity,times_sold,returns,cancellations");
    for (uint64_t p = 0; p < num_products; ++p) {
      const Product& x = products[p];
      const Subclass& s = subclasses[x.subclass];
      f.Line(Id('p', p, num_products) + "," + kDivisions[s.division] + "," + s.department + "," +
             s.cls + "," + s.name + "," + Id('b', x.brand, num_brands) + "," + Cents(x.price) +
             "," + std::to_string(x.launch) + "," + std::to_string(x.from) + "," +
             std::to_string(x.until) + "," + std::to_string(x.quantity) + "," +
             std::to_string(x.times_sold) + "," + std::to_string(x.returns) + "," +
             std::to_string(x.cancellations));
      f.Row();
    }
    ENCORE_RETURN_IF_ERROR(f.Close(&report));
  }
  {
    File f(dir, "members.csv");
    if (!f.ok()) return Status::IOError("cannot create " + f.tmp());
    f.Line("member,primary_division,spend_level,intent_subclass");
    for (uint64_t m = 0; m < options.users; ++m) {
      const Member& x = members[m];
      f.Line(Id('m', m, options.users) + "," + kDivisions[x.division] + "," +
             std::to_string(x.spend_level) + "," + subclasses[x.intent].name);
      f.Row();
    }
    ENCORE_RETURN_IF_ERROR(f.Close(&report));
  }
  // ---- events
  File f(dir, "events.csv");
  if (!f.ok()) return Status::IOError("cannot create " + f.tmp());
  f.Line("member,product,event,timestamp");
  Rng er(seed, 4);
  const int64_t intent_start = kAsOf - kIntentDays * kDay;
  const uint64_t step = std::max<uint64_t>(1, options.rows / 100);
  progress->Start("fashion events", 0, "events");
  for (uint64_t r = 0; r < options.rows; ++r) {
    const uint64_t m =
        static_cast<uint64_t>(std::lower_bound(cdf.begin(), cdf.end(), er.Uniform()) - cdf.begin());
    const Member& x = members[std::min<uint64_t>(m, options.users - 1)];
    const char* event;
    uint32_t product;
    int64_t time;
    const std::vector<uint32_t>& intent = subclasses[x.intent].past;
    bool planted = false;
    if (er.Chance(kIntentShare)) {
      // Recent intent: views and carts (never purchases) in the intent
      // subclass, within the last kIntentDays days; a product whose sale
      // did not overlap that window gives an ordinary event instead.
      product = intent[er.Below(intent.size())];
      const Product& p = products[product];
      const int64_t lo = std::max(p.from, intent_start), hi = std::min(p.until, kAsOf);
      if (lo < hi) {
        time = lo + static_cast<int64_t>(er.Below(static_cast<uint64_t>(hi - lo)));
        event = er.Chance(0.8) ? "view" : "cart";
        planted = true;
      }
    }
    if (!planted) {
      int d = x.division;
      if (!er.Chance(kInPrimaryDivision)) d = live_divisions[er.Below(live_divisions.size())];
      int s;
      if (d == x.division && er.Chance(kInFavourite)) {
        s = x.favourites[er.Below(kFavourites)];
      } else {
        s = live_subclasses[d][er.Below(live_subclasses[d].size())];
      }
      const std::vector<uint32_t>& past = subclasses[s].past;
      // The member's spending level: of a few products, the closest in log price.
      const double target = subclasses[s].log_price + x.spend;
      product = past[er.Below(past.size())];
      for (int k = 1; k < kPriceCandidates; ++k) {
        const uint32_t c = past[er.Below(past.size())];
        if (std::fabs(std::log(products[c].price) - target) <
            std::fabs(std::log(products[product].price) - target)) {
          product = c;
        }
      }
      const Product& p = products[product];
      const int64_t hi = std::min(p.until, kAsOf);
      time = p.from + static_cast<int64_t>(er.Below(static_cast<uint64_t>(hi - p.from)));
      const double u = er.Uniform();
      event = u < 0.70   ? "view"
              : u < 0.85 ? "cart"
              : u < 0.88 ? "still_want_it"
              : u < 0.98 ? "purchase"
                         : "return";
      if (s == x.intent && time >= intent_start && u >= 0.85) event = "view";
    }
    f.Line(Id('m', &x - members.data(), options.users) + "," + Id('p', product, num_products) +
           "," + event + "," + std::to_string(time));
    f.Row();
    if (r % step == 0) progress->Update(r, r);
  }
  progress->Finish();
  ENCORE_RETURN_IF_ERROR(f.Close(&report));
  return report;
}

}  // namespace encore
