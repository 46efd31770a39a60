// ESLint for the Office add-in's plain JavaScript modules and their tests (no build step).
import js from "@eslint/js";
import globals from "globals";

export default [
  { ignores: ["node_modules/**", ".venv/**", "test-artifacts/**"] },
  js.configs.recommended,
  {
    files: ["qaas_excel/office/static/**/*.js"],
    languageOptions: {
      ecmaVersion: 2022,
      sourceType: "module",
      globals: { ...globals.browser, Office: "readonly", Excel: "readonly", CustomFunctions: "readonly" },
    },
    rules: {
      "no-unused-vars": ["error", { argsIgnorePattern: "^_" }],
      eqeqeq: "error",
      "no-var": "error",
      "prefer-const": "error",
    },
  },
  {
    files: ["tests/office/**/*.js", "eslint.config.js"],
    languageOptions: {
      ecmaVersion: 2022,
      sourceType: "module",
      globals: { ...globals.node, ...globals.browser },
    },
    rules: { eqeqeq: "error", "no-var": "error", "prefer-const": "error" },
  },
];
