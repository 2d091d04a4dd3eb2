() => {
  // The page's language, for the sentences the server writes (error toasts, stats lines: demo/ui/texts.py). The
  // hidden #page-lang shows t("lang.code"), which the browser translates ("en" or "zh") and translates again after a
  // switch (Gradio's Settings or the header's button); its text is kept in the demo_lang cookie, which every event
  // sends.
  if (window.__pageLang) return;
  window.__pageLang = true;
  let last = null;
  // Gradio 6.31 translates a tab's name again after a switch only once the tab has been shown: the names of tabs
  // not opened yet are put right here, from the page's own texts (the "tab." keys of demo/ui/page.py).
  const relabel = (lang) => {
    const texts = (window.gradio_config || {}).i18n_translations || {};
    if (!texts.en || !texts[lang]) return;
    const names = {};  // a tab's name in any language -> in this one
    for (const key of Object.keys(texts.en).filter((k) => k.startsWith("tab."))) {
      for (const words of Object.values(texts)) if (words[key]) names[words[key]] = texts[lang][key] || texts.en[key];
    }
    document.querySelectorAll("[role=tab]").forEach((tab) => {
      const walker = document.createTreeWalker(tab, NodeFilter.SHOW_TEXT);
      for (let node = walker.nextNode(); node; node = walker.nextNode()) {
        const text = node.nodeValue.trim();
        if (names[text] && names[text] !== text) node.nodeValue = node.nodeValue.replace(text, names[text]);
      }
    });
  };
  const sync = () => {
    const shown = document.querySelector("#page-lang");
    const lang = shown ? shown.textContent.trim() : "";
    if (lang !== "en" && lang !== "zh") return;
    relabel(lang);
    if (lang === last) return;
    last = lang;
    document.cookie = `demo_lang=${lang}; path=/; max-age=31536000; SameSite=Lax`;
    document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";
  };
  new MutationObserver(sync).observe(document.body, { subtree: true, childList: true, characterData: true });
  sync();
}
