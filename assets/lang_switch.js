async () => {
  // The header's English / 中文 switch: Gradio's own locale change (changeLocale, exported by its core module, which
  // its Settings panel calls), on the module instance the page already runs. Without it: Gradio's Settings panel.
  const shown = (document.querySelector("#page-lang")?.textContent || "en").trim();
  const next = shown === "zh" ? "en" : "zh-CN";
  const core = performance.getEntriesByType("resource").map((e) => e.name)
    .find((name) => /\/assets\/core-[\w-]+\.js(\?.*)?$/.test(name));
  if (core) {
    const module = await import(core);
    if (typeof module.changeLocale === "function") {
      module.changeLocale(next);
      return;
    }
  }
  const settings = [...document.querySelectorAll("footer button, footer a")]
    .find((el) => /settings|设置/i.test(el.textContent));
  if (settings) settings.click();
}
