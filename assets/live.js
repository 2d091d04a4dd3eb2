() => {
  // The light stream (demo/ui/live.py): a message being made ends with <span class="live-text live-TICKET">;
  // the rest of its answer arrives on live/TICKET (server-sent events) and is written into that span, as text.
  // The answer's final update replaces the message (rendered, without the span): its stream is then closed.
  if (window.__liveText) return;
  window.__liveText = true;
  const following = new Map(); // span -> EventSource
  const root = () => ((window.gradio_config && window.gradio_config.root) || window.location.pathname).replace(/\/?$/, "/");
  const scroller = (el) => {
    for (let node = el.parentElement; node; node = node.parentElement) {
      const style = getComputedStyle(node);
      if (/(auto|scroll)/.test(style.overflowY) && node.scrollHeight > node.clientHeight) return node;
    }
    return null;
  };
  const follow = (span) => {
    const named = [...span.classList].find((c) => c.startsWith("live-") && c !== "live-text");
    const ticket = named && named.slice(5);
    if (!ticket || following.has(span)) return;
    const source = new EventSource(new URL("live/" + encodeURIComponent(ticket), new URL(root(), window.location.href)));
    following.set(span, source);
    source.onopen = () => { span.textContent = ""; }; // every (re)connection sends the text from the start
    source.onmessage = (event) => {
      const box = scroller(span);
      const atEnd = box && box.scrollHeight - box.scrollTop - box.clientHeight < 40;
      span.textContent += JSON.parse(event.data);
      if (atEnd) box.scrollTop = box.scrollHeight; // follow the answer, unless the reader scrolled up
    };
    source.addEventListener("end", () => source.close());
    source.onerror = () => { if (source.readyState === EventSource.CLOSED) source.close(); };
  };
  const sweep = () => {
    for (const [span, source] of following) {
      if (!span.isConnected) { source.close(); following.delete(span); }
    }
    document.querySelectorAll("span.live-text").forEach(follow);
  };
  new MutationObserver(sweep).observe(document.body, { subtree: true, childList: true });
  sweep();
}
