#include "encore/event.h"

#include <gtest/gtest.h>

namespace encore {
namespace {

using Fields = std::vector<std::pair<std::string, std::string>>;

EventSchema Typed() {
  EventSchema s;
  s.known_types = {"view", "cart", "purchase"};
  return s;
}

TEST(EventFromFields, ReadsEveryField) {
  Event e;
  EventRejection r;
  ASSERT_TRUE(EventFromFields({{"user", "u1"},
                               {"item", "i2"},
                               {"event", "cart"},
                               {"ts", "2026-12-05T13:00:00Z"},
                               {"id", "ev-9"},
                               {"quantity", "2"},
                               {"price", "9.5"},
                               {"ignored", "x"}},
                              Typed(), &e, &r))
      << r.ToString();
  EXPECT_EQ(e.user, "u1");
  EXPECT_EQ(e.item, "i2");
  EXPECT_EQ(e.type, "cart");
  EXPECT_EQ(e.time, 1796475600);
  EXPECT_EQ(e.id, "ev-9");
  EXPECT_EQ(e.quantity, 2);
  EXPECT_EQ(e.price, 9.5);
  // Seconds and milliseconds.
  ASSERT_TRUE(EventFromFields(
      {{"user", "u"}, {"item", "i"}, {"event", "view"}, {"ts", "1700000000"}}, Typed(), &e, &r));
  EXPECT_EQ(e.time, 1700000000);
  ASSERT_TRUE(EventFromFields(
      {{"user", "u"}, {"item", "i"}, {"event", "view"}, {"ts", "1700000000123"}}, Typed(), &e, &r));
  EXPECT_EQ(e.time, 1700000000);
  EXPECT_EQ(e.quantity, 1);
  EXPECT_FALSE(e.price.has_value());
}

struct BadCase {
  Fields fields;
  std::string field, label;
};

TEST(EventFromFields, RejectsWithFieldAndReason) {
  const std::string long_id(257, 'x');
  const std::vector<BadCase> cases = {
      {{{"item", "i"}, {"event", "view"}}, "user", "missing"},
      {{{"user", "u"}, {"event", "view"}}, "item", "missing"},
      {{{"user", "u"}, {"item", "i"}}, "event", "missing"},
      {{{"user", ""}, {"item", "i"}, {"event", "view"}}, "user", "empty"},
      {{{"user", "u\x01"}, {"item", "i"}, {"event", "view"}}, "user", "control_character"},
      {{{"user", "u"}, {"item", "i\n"}, {"event", "view"}}, "item", "control_character"},
      {{{"user", "u"}, {"item", "i"}, {"event", "view"}, {"id", "a\x7f"}},
       "id",
       "control_character"},
      {{{"user", long_id}, {"item", "i"}, {"event", "view"}}, "user", "too_long"},
      {{{"user", "u"}, {"item", "i"}, {"event", "teleport"}}, "event", "unknown_event_type"},
      {{{"user", "u"}, {"item", "i"}, {"event", "view"}, {"ts", "yesterday"}}, "ts", "bad_time"},
      {{{"user", "u"}, {"item", "i"}, {"event", "view"}, {"quantity", "nan"}},
       "quantity",
       "bad_number"},
      {{{"user", "u"}, {"item", "i"}, {"event", "view"}, {"quantity", "0"}},
       "quantity",
       "bad_number"},
      {{{"user", "u"}, {"item", "i"}, {"event", "view"}, {"price", "-1"}}, "price", "bad_number"},
  };
  for (const BadCase& c : cases) {
    Event e;
    EventRejection r;
    EXPECT_FALSE(EventFromFields(c.fields, Typed(), &e, &r)) << c.field << " " << c.label;
    EXPECT_EQ(r.field, c.field);
    EXPECT_EQ(r.label, c.label) << r.reason;
    EXPECT_FALSE(r.reason.empty());
  }
}

TEST(EventFromFields, AnyTypeWithoutKnownTypes) {
  Event e;
  EventRejection r;
  EXPECT_TRUE(EventFromFields({{"user", "u"}, {"item", "i"}, {"event", "teleport"}}, EventSchema(),
                              &e, &r));
}

TEST(EventFromFields, ObfuscatesLikeTheBatchReader) {
  auto ob = Obfuscator::Create("0123456789abcdef0123");
  ASSERT_TRUE(ob.ok());
  EventSchema s;
  s.obfuscate = {"user"};
  s.obfuscator = &*ob;
  Event e;
  EventRejection r;
  ASSERT_TRUE(EventFromFields({{"user", "alice@example.com"}, {"item", "i"}, {"event", "view"}}, s,
                              &e, &r));
  EXPECT_EQ(e.user, ob->Hash("alice@example.com"));
  EXPECT_EQ(e.item, "i");
}

TEST(EventFromJson, NumbersAndStrings) {
  Event e;
  EventRejection r;
  ASSERT_TRUE(EventFromJson(
      R"({"user":"u","item":"i","event":"view","ts":1700000000,"quantity":2.5})", Typed(), &e, &r))
      << r.ToString();
  EXPECT_EQ(e.time, 1700000000);
  EXPECT_EQ(e.quantity, 2.5);
  EXPECT_FALSE(EventFromJson("not json", Typed(), &e, &r));
  EXPECT_EQ(r.label, "bad_json");
  EXPECT_FALSE(EventFromJson("[1]", Typed(), &e, &r));
  EXPECT_EQ(r.label, "not_an_object");
  EXPECT_FALSE(EventFromJson(R"({"user":["u"],"item":"i","event":"view"})", Typed(), &e, &r));
  EXPECT_EQ(r.field, "user");
  // The JSON escape of a control character is still a control character.
  EXPECT_FALSE(EventFromJson(R"({"user":"u\u0000x","item":"i","event":"view"})", Typed(), &e, &r));
  EXPECT_EQ(r.label, "control_character");
}

TEST(EventsFromJsonArray, KeepsGoodEventsAndIndexesBadOnes) {
  std::vector<Event> events;
  std::vector<size_t> indices;
  std::vector<EventRejection> rejections;
  ASSERT_TRUE(EventsFromJsonArray(R"([
      {"user":"u1","item":"i1","event":"view"},
      {"user":"u1","event":"view"},
      7,
      {"user":"u2","item":"i2","event":"teleport"},
      {"user":"u3","item":"i3","event":"purchase","id":"p1"}])",
                                  Typed(), &events, &indices, &rejections)
                  .ok());
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(indices, (std::vector<size_t>{0, 4}));
  EXPECT_EQ(events[1].id, "p1");
  ASSERT_EQ(rejections.size(), 3u);
  EXPECT_EQ(rejections[0].index, 1u);
  EXPECT_EQ(rejections[0].ToString(), "event 1: field 'item': missing");
  EXPECT_EQ(rejections[1].index, 2u);
  EXPECT_EQ(rejections[1].label, "not_an_object");
  EXPECT_EQ(rejections[2].index, 3u);
  EXPECT_EQ(rejections[2].label, "unknown_event_type");
}

TEST(EventsFromJsonArray, WholeBodyErrors) {
  std::vector<Event> events;
  std::vector<size_t> indices;
  std::vector<EventRejection> rejections;
  EXPECT_FALSE(EventsFromJsonArray("[{\"user\":", Typed(), &events, &indices, &rejections).ok());
  EXPECT_FALSE(EventsFromJsonArray("{}", Typed(), &events, &indices, &rejections).ok());
  EventSchema small = Typed();
  small.max_events = 2;
  Status s = EventsFromJsonArray("[{},{},{}]", small, &events, &indices, &rejections);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("at most 2"), std::string::npos) << s.message();
  EXPECT_TRUE(events.empty());
}

TEST(EventFields, RoundTripsThroughEventFromFields) {
  Event e;
  e.user = "u";
  e.item = "i";
  e.type = "cart";
  e.time = 1700000000;
  e.id = "x1";
  e.quantity = 3;
  e.price = 1.25;
  Event back;
  EventRejection r;
  ASSERT_TRUE(EventFromFields(EventFields(e), Typed(), &back, &r)) << r.ToString();
  EXPECT_EQ(back, e);
}

}  // namespace
}  // namespace encore
