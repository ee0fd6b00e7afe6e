#include "encore/catalog.h"

#include <gtest/gtest.h>

#include "test_util.h"

namespace encore {
namespace {

using testing::TempDir;
using testing::WriteFile;

const char kHeader[] =
    "product,division,department,class,subclass,brand,price,launch_time,available_from,"
    "available_until,quantity,times_sold\n";

std::string Good() {
  return std::string(kHeader) +
         "p1,women,apparel,dresses,maxi,Acme,120.5,2026-01-01,2026-01-02,2026-01-05,4,10\n"
         "p2,women,apparel,dresses,maxi,Acme,80,1767225600,1767312000,1767571200,0,\n"
         "p3,women,apparel,dresses,mini,Zeta,60,0,0,100,7,2\n";
}

TEST(CatalogTest, ReadsCsvColumnsByName) {
  TempDir dir;
  WriteFile(dir.File("c.csv"), Good());
  CatalogReport report;
  Result<Catalog> c = ReadCatalog(dir.File("c.csv"), CatalogOptions{}, &report);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  ASSERT_EQ(c->size(), 3u);
  EXPECT_EQ(report.rows_accepted, 3u);
  EXPECT_EQ(report.missing_counters, (std::vector<std::string>{"returns", "cancellations"}));
  EXPECT_EQ(c->node_name(0, 3), "maxi");
  EXPECT_EQ(c->node(0, 3), c->node(1, 3));
  EXPECT_NE(c->node(0, 3), c->node(2, 3));
  EXPECT_DOUBLE_EQ(c->price(0), 120.5);
  // ISO dates and unix seconds read the same way.
  EXPECT_EQ(c->launch(0), 1767225600);
  EXPECT_EQ(c->available_from(1), 1767312000);
  EXPECT_EQ(c->quantity(2), 7);
  EXPECT_EQ(c->counter(0, *c->FindCounter("times_sold")), 10);
  EXPECT_EQ(c->counter(1, *c->FindCounter("times_sold")), 0);  // empty reads as 0
  EXPECT_EQ(c->counter(0, *c->FindCounter("returns")), 0);     // absent column
}

TEST(CatalogTest, ReadsJsonLinesInAnyKeyOrder) {
  TempDir dir;
  WriteFile(dir.File("c.jsonl"),
            "{\"product\":\"p1\",\"division\":\"w\",\"department\":\"a\",\"class\":\"d\","
            "\"subclass\":\"m\",\"brand\":\"B\",\"price\":9.5,\"launch_time\":0,"
            "\"available_from\":0,\"available_until\":10,\"quantity\":3}\n"
            "{\"quantity\":5,\"available_until\":20,\"available_from\":1,\"launch_time\":1,"
            "\"price\":\"7\",\"brand\":\"C\",\"subclass\":\"m\",\"class\":\"d\",\"department\":"
            "\"a\",\"division\":\"w\",\"product\":\"p2\"}\n");
  Result<Catalog> c = ReadCatalog(dir.File("c.jsonl"), CatalogOptions{});
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  ASSERT_EQ(c->size(), 2u);
  EXPECT_EQ(c->node_name(1, 4), "C");
  EXPECT_EQ(c->quantity(1), 5);
  EXPECT_DOUBLE_EQ(c->price(1), 7);
  EXPECT_EQ(c->available_until(1), 20);
}

TEST(CatalogTest, BadJsonLinesAreRejectedByLineWithTheReason) {
  TempDir dir;
  const std::string good =
      "{\"product\":\"p1\",\"division\":\"w\",\"department\":\"a\",\"class\":\"d\","
      "\"subclass\":\"m\",\"brand\":\"B\",\"price\":9.5,\"quantity\":3,\"launch_time\":0,"
      "\"available_from\":0,\"available_until\":10}\n";
  WriteFile(dir.File("c.jsonl"),
            good +
                "{\"product\":\"p2\",\"division\":\"w\",\"department\":\"a\",\"class\":\"d\","
                "\"subclass\":\"m\",\"brand\":{\"name\":\"B\"},\"price\":1}\n"
                "{\"product\":\"p3\"} {\"product\":\"p4\"}\n"
                "[1, 2]\n");
  // By default a bad row fails the read, naming each one with its reason.
  Result<Catalog> strict = ReadCatalog(dir.File("c.jsonl"), CatalogOptions{});
  ASSERT_FALSE(strict.ok());
  EXPECT_NE(strict.status().message().find("c.jsonl:2: key 'brand' holds an object"),
            std::string::npos)
      << strict.status().message();
  CatalogOptions lenient;
  lenient.max_bad_rows = 10;
  CatalogReport report;
  Result<Catalog> c = ReadCatalog(dir.File("c.jsonl"), lenient, &report);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->size(), 1u);
  EXPECT_EQ(report.rows_rejected, 3u);
  ASSERT_EQ(report.first_rejections.size(), 3u);
  EXPECT_EQ(report.first_rejections[0].line, 2u);
  EXPECT_NE(report.first_rejections[0].reason.find("key 'brand' holds an object"),
            std::string::npos)
      << report.first_rejections[0].reason;
  EXPECT_EQ(report.first_rejections[1].line, 3u);
  EXPECT_NE(report.first_rejections[1].reason.find("not a JSON object"), std::string::npos);
  EXPECT_EQ(report.first_rejections[2].line, 4u);
  // A first line that is not an object fails the read, naming file and line.
  WriteFile(dir.File("bad.jsonl"), "not json\n" + good);
  Result<Catalog> bad = ReadCatalog(dir.File("bad.jsonl"), CatalogOptions{});
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("bad.jsonl:1: not a JSON object"), std::string::npos)
      << bad.status().message();
}

TEST(CatalogTest, AnyLevelsByColumnName) {
  TempDir dir;
  WriteFile(dir.File("c.csv"),
            "sku,cat,maker,price,launch_time,available_from,available_until,quantity\n"
            "a,shoes,X,1,0,0,1,1\nb,shoes,Y,2,0,0,1,1\n");
  CatalogOptions o;
  o.id_col = "sku";
  o.levels = {"cat", "maker"};
  Result<Catalog> c = ReadCatalog(dir.File("c.csv"), o);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->level_names(), o.levels);
  EXPECT_EQ(c->level_values(0).size(), 1u);
  EXPECT_EQ(c->level_values(1).size(), 2u);
}

TEST(CatalogTest, UnknownHierarchyColumnFailsBeforeAnyRow) {
  TempDir dir;
  WriteFile(dir.File("c.csv"), Good());
  CatalogOptions o;
  o.levels = {"division", "season"};
  Result<Catalog> c = ReadCatalog(dir.File("c.csv"), o);
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("hierarchy column 'season'"), std::string::npos)
      << c.status().message();
  EXPECT_NE(c.status().message().find("columns found: product,"), std::string::npos);
}

TEST(CatalogTest, BadRowsAreReportedByLine) {
  TempDir dir;
  WriteFile(dir.File("c.csv"),
            Good() +
                "p1,women,apparel,dresses,maxi,Acme,1,0,0,1,1,\n"       // line 5: duplicate
                "p4,women,apparel,dresses,maxi,Acme,cheap,0,0,1,1,\n"   // line 6: price
                "p5,women,apparel,dresses,maxi,Acme,5,0,100,50,1,\n"    // line 7: window
                "p6,women,apparel,dresses,maxi,Acme,5,0,0,1,lots,\n"    // line 8: quantity
                "p7,women,apparel,dresses,,Acme,5,0,0,1,1,\n"           // line 9: empty level
                "p8,women,apparel,dresses,maxi,Acme,5,soon,0,1,1,\n");  // line 10: time
  CatalogReport report;
  Result<Catalog> c = ReadCatalog(dir.File("c.csv"), CatalogOptions{}, &report);
  ASSERT_FALSE(c.ok());
  const std::string& m = c.status().message();
  const std::string f = dir.File("c.csv");
  EXPECT_NE(m.find("6 bad catalog row(s)"), std::string::npos) << m;
  EXPECT_NE(m.find(f + ":5: duplicate product id 'p1' (first on line 2)"), std::string::npos) << m;
  EXPECT_NE(m.find(f + ":6: price 'cheap' is not a number"), std::string::npos) << m;
  EXPECT_NE(m.find(f + ":7: sale window of product 'p5' ends before it starts"), std::string::npos)
      << m;
  EXPECT_NE(m.find(f + ":8: quantity 'lots' is not an integer"), std::string::npos) << m;
  EXPECT_NE(m.find(f + ":9: empty subclass"), std::string::npos) << m;
  EXPECT_NE(m.find(f + ":10: launch_time 'soon' is not a time"), std::string::npos) << m;
  EXPECT_EQ(report.rows_rejected, 6u);
  EXPECT_EQ(report.rows_accepted, 3u);

  // Allowed bad rows are skipped, and counted.
  CatalogOptions o;
  o.max_bad_rows = 6;
  Result<Catalog> tolerant = ReadCatalog(f, o, &report);
  ASSERT_TRUE(tolerant.ok()) << tolerant.status().ToString();
  EXPECT_EQ(tolerant->size(), 3u);
  EXPECT_EQ(report.rows_rejected, 6u);
}

TEST(CatalogTest, MissingFileAndEmptyFile) {
  TempDir dir;
  EXPECT_EQ(ReadCatalog(dir.File("nope.csv"), {}).status().code(), StatusCode::kNotFound);
  WriteFile(dir.File("e.csv"), "");
  EXPECT_FALSE(ReadCatalog(dir.File("e.csv"), {}).ok());
}

Catalog Small() {
  CatalogOptions o;
  CatalogBuilder b(o);
  auto add = [&](std::string id, std::string cls, std::string sub, std::string brand) {
    ProductRow r;
    r.id = id;
    r.levels = {"women", "apparel", cls, sub, brand};
    r.available_until = 10;
    EXPECT_TRUE(b.Add(r).ok());
  };
  add("p1", "dresses", "maxi", "Acme");
  add("p2", "dresses", "maxi", "Zeta");
  add("p3", "dresses", "maxi", "Acme");
  add("p4", "tops", "tees", "Acme");
  return std::move(b).Finish();
}

TEST(KeyIndexTest, GroupsProductsByLevels) {
  Catalog c = Small();
  Result<std::vector<std::string>> levels = ParseKeyLevels(c, "subclass_brand");
  ASSERT_TRUE(levels.ok());
  Result<KeyIndex> k = KeyIndex::Build(c, *levels);
  ASSERT_TRUE(k.ok());
  EXPECT_EQ(k->name(), "subclass_brand");
  ASSERT_EQ(k->num_keys(), 3u);
  EXPECT_EQ(k->keys().Name(k->key_of(0)), "maxi|Acme");
  EXPECT_EQ(k->key_of(0), k->key_of(2));
  std::span<const uint32_t> ps = k->products(k->key_of(0));
  EXPECT_EQ(std::vector<uint32_t>(ps.begin(), ps.end()), (std::vector<uint32_t>{0, 2}));
  // class is determined by subclass; brand is not determined by subclass alone.
  Result<std::vector<uint32_t>> cls = k->NodesAt(c, *c.FindLevel("class"));
  ASSERT_TRUE(cls.ok());
  EXPECT_EQ(c.level_values(2).Name((*cls)[k->key_of(3)]), "tops");
  Result<KeyIndex> sub = KeyIndex::Build(c, {"subclass"});
  ASSERT_TRUE(sub.ok());
  EXPECT_FALSE(sub->NodesAt(c, *c.FindLevel("brand")).ok());
}

TEST(KeyIndexTest, ProductKeyAndBadLevels) {
  Catalog c = Small();
  Result<std::vector<std::string>> none = ParseKeyLevels(c, "product");
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
  Result<KeyIndex> k = KeyIndex::Build(c, *none);
  ASSERT_TRUE(k.ok());
  EXPECT_EQ(k->num_keys(), 4u);
  EXPECT_EQ(k->keys().Name(k->key_of(3)), "p4");
  Result<std::vector<std::string>> bad = ParseKeyLevels(c, "subclass_colour");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("'colour' is not a catalog level"), std::string::npos)
      << bad.status().message();
  EXPECT_FALSE(KeyIndex::Build(c, {"brand", "brand"}).ok());
}

TEST(CatalogTest, EventsForUnknownProductsAreCounted) {
  Catalog c = Small();
  InteractionLog log;
  for (const char* item : {"p1", "p9", "p9", "p2", "zz"}) {
    log.user.push_back(log.users.Intern("u"));
    log.item.push_back(log.items.Intern(item));
    log.value.push_back(1);
  }
  UnknownProducts u = FindUnknownProducts(log, c);
  EXPECT_EQ(u.rows, 3u);
  EXPECT_EQ(u.distinct, 2u);
  EXPECT_EQ(u.first, (std::vector<std::string>{"p9", "zz"}));
  EXPECT_NE(u.Describe().find("3 event(s) on 2 product(s) not in the catalog"), std::string::npos);
}

}  // namespace
}  // namespace encore
