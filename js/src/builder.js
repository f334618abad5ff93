export { default } from "./builder/index.js";
