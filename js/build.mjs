// Bundles every widget's front end into ../convlab_widgets/static/, where the
// Python side (anywidget _esm/_css) and the wheel (hatch artifacts) find it.
import * as esbuild from "esbuild";

const widgets = ["builder", "monitor", "runs_table"];
const options = {
  entryPoints: widgets.flatMap((name) => [`src/${name}.js`, `src/${name}.css`]),
  bundle: true,
  format: "esm",
  minify: true,
  sourcemap: false,
  target: ["es2020"],
  outdir: "../convlab_widgets/static",
  logLevel: "info",
};

if (process.argv.includes("--watch")) {
  const context = await esbuild.context(options);
  await context.watch();
} else {
  await esbuild.build(options);
}
