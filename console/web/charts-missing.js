// Stand-in for the charting library when the build found no
// console/node_modules (scripts/install-deps.sh installs it): the pages show
// their numbers and say why there are no charts.
window.ENCORE_CHARTS_MISSING = true;
