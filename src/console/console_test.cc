// The console's endpoints without sockets: who may read what, the embedded
// assets, the runs and profile pages over a workdir, the live page.

#include "console/console.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "console/assets.h"

namespace encore::console {
namespace {

namespace fs = std::filesystem;

serve::HttpResponse Get(const serve::Extension& ui, std::string_view target,
                        const serve::ExtensionContext& c) {
  serve::HttpRequest r;
  r.method = "GET";
  r.target = target;
  return ui.Handle(r, c);
}

TEST(Console, StaticFilesArePublicAndDataNeedsTheKey) {
  auto ui = CreateConsole(ConsoleOptions());
  ASSERT_TRUE(ui.ok()) << ui.status().ToString();
  serve::Metrics metrics;
  serve::ExtensionContext c;
  c.metrics = &metrics;
  c.admin_enabled = true;
  serve::HttpResponse index = Get(**ui, "/ui/", c);
  EXPECT_EQ(index.status, 200);
  EXPECT_EQ(index.content_type, "text/html; charset=utf-8");
  EXPECT_NE(index.body.find("/ui/app.js"), std::string::npos);
  EXPECT_EQ(Get(**ui, "/ui", c).status, 200);
  EXPECT_EQ(Get(**ui, "/ui/vendor/chart.js", c).status, 200);
  EXPECT_EQ(Get(**ui, "/ui/nothing.js", c).status, 404);
  EXPECT_EQ(Get(**ui, "/ui/api/config", c).status, 200);
  // Without the key: 401 (with the header asking for it).
  for (const char* api : {"/ui/api/live", "/ui/api/runs", "/ui/api/profile", "/ui/api/experiment",
                          "/ui/api/users/u1"}) {
    serve::HttpResponse r = Get(**ui, api, c);
    EXPECT_EQ(r.status, 401) << api;
    EXPECT_TRUE(r.www_authenticate) << api;
    EXPECT_EQ(r.route, serve::Route::kConsole);
  }
  // With it.
  c.authorized = true;
  serve::HttpResponse live = Get(**ui, "/ui/api/live", c);
  EXPECT_EQ(live.status, 200);
  EXPECT_NE(live.body.find("\"metrics\":{\"uptime_seconds\""), std::string::npos) << live.body;
  EXPECT_NE(live.body.find("\"snapshot\":null"), std::string::npos) << live.body;
  EXPECT_EQ(Get(**ui, "/ui/api/runs", c).status, 404);      // no workdir: says how to get one
  EXPECT_EQ(Get(**ui, "/ui/api/users/u1", c).status, 503);  // no snapshot yet
  // A server without a key: 403 naming the flag.
  c.authorized = false;
  c.admin_enabled = false;
  serve::HttpResponse r = Get(**ui, "/ui/api/live", c);
  EXPECT_EQ(r.status, 403);
  EXPECT_NE(r.body.find("--api-key-file"), std::string::npos);
  serve::HttpRequest post;
  post.method = "POST";
  post.target = "/ui/api/live";
  EXPECT_EQ((*ui)->Handle(post, c).status, 405);
}

TEST(Console, PublicReadOnlyPagesButNeverTheUserExplorer) {
  ConsoleOptions o;
  o.public_read_only = true;
  auto ui = CreateConsole(o);
  ASSERT_TRUE(ui.ok());
  serve::Metrics metrics;
  serve::ExtensionContext c;
  c.metrics = &metrics;
  c.admin_enabled = true;
  EXPECT_EQ(Get(**ui, "/ui/api/live", c).status, 200);
  EXPECT_EQ(Get(**ui, "/ui/api/users/u1", c).status, 401);
  c.admin_enabled = false;
  EXPECT_EQ(Get(**ui, "/ui/api/users/u1", c).status, 403);
}

TEST(Console, RunsAndProfileFromTheWorkdir) {
  const fs::path dir = fs::temp_directory_path() / ("console_test_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  for (const char* id : {"20261124T081500Z", "20261125T081500Z"}) {
    fs::create_directories(dir / "runs" / id);
    std::ofstream(dir / "runs" / id / "manifest.json") << "{\"run_id\":\"" << id << "\"}";
  }
  std::ofstream(dir / "runs" / "20261124T081500Z" / "profile.json") << "{\"users\":3}";
  fs::create_directories(dir / "store");
  EXPECT_EQ(WorkdirOfStore((dir / "store").string()), dir.lexically_normal().string());
  EXPECT_EQ(WorkdirOfStore((dir / "runs" / "20261124T081500Z").string()),
            "");  // no runs/ beside it
  EXPECT_EQ(WorkdirOfStore("redis://127.0.0.1:6379/0"), "");

  ConsoleOptions o;
  o.workdir = dir.string();
  o.public_read_only = true;
  auto ui = CreateConsole(o);
  ASSERT_TRUE(ui.ok());
  serve::Metrics metrics;
  serve::ExtensionContext c;
  c.metrics = &metrics;
  serve::HttpResponse runs = Get(**ui, "/ui/api/runs", c);
  EXPECT_EQ(runs.status, 200);
  EXPECT_NE(runs.body.find("{\"id\":\"20261124T081500Z\",\"profile\":true,\"manifest\":{\"run_id\":"
                           "\"20261124T081500Z\"}}"),
            std::string::npos)
      << runs.body;
  EXPECT_NE(runs.body.find("{\"id\":\"20261125T081500Z\",\"profile\":false"), std::string::npos);
  // The newest run with a profile.
  serve::HttpResponse profile = Get(**ui, "/ui/api/profile", c);
  EXPECT_EQ(profile.status, 200);
  EXPECT_EQ(profile.body, "{\"run\":\"20261124T081500Z\",\"profile\":{\"users\":3}}");
  EXPECT_EQ(Get(**ui, "/ui/api/profile?run=20261125T081500Z", c).status, 404);
  EXPECT_EQ(Get(**ui, "/ui/api/profile?run=../../etc", c).status, 400);
  fs::remove_all(dir);
}

TEST(Console, ExperimentPageSaysWhatIsMissing) {
  auto ui = CreateConsole(ConsoleOptions{.public_read_only = true});
  ASSERT_TRUE(ui.ok());
  serve::Metrics metrics;
  serve::ExtensionContext c;
  c.metrics = &metrics;
  serve::HttpResponse r = Get(**ui, "/ui/api/experiment", c);
  EXPECT_EQ(r.status, 404);
  EXPECT_NE(r.body.find("--experiment"), std::string::npos);
  EXPECT_TRUE((*ui)->MayBlock("/ui/api/experiment"));
  EXPECT_FALSE((*ui)->MayBlock("/ui/api/live"));
}

TEST(Console, BadCatalogIsAnError) {
  ConsoleOptions o;
  o.catalog = "/nonexistent/catalog.csv";
  auto ui = CreateConsole(o);
  ASSERT_FALSE(ui.ok());
  EXPECT_NE(ui.status().message().find("--console-catalog"), std::string::npos);
}

}  // namespace
}  // namespace encore::console
