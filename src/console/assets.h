// The console's web assets, embedded into the binary at build time by
// console/embed.cmake (from console/web and console/node_modules).
//
// Thread-safety: constant data.
#ifndef ENCORE_CONSOLE_ASSETS_H_
#define ENCORE_CONSOLE_ASSETS_H_

#include <cstddef>

namespace encore::console {

struct Asset {
  const char* path;          // below /ui/: "index.html", "vendor/chart.js"
  const char* content_type;  // a literal, e.g. "text/javascript; charset=utf-8"
  const unsigned char* data;
  size_t size;
};

extern const Asset kAssets[];
extern const size_t kAssetCount;
// False when the build found no console/node_modules/chart.js: the pages
// then say that charts are unavailable and how to install them.
extern const bool kChartsEmbedded;
extern const char kChartVersion[];  // "" without it

}  // namespace encore::console

#endif  // ENCORE_CONSOLE_ASSETS_H_
