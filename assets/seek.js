() => {
  // Time chips (demo/inputs/video_times.py) move the Video tab's player to their time and mark the sampled
  // frame nearest to it. One listener for the whole page: chips come and go as answers stream.
  if (window.__seekChips) return;
  window.__seekChips = true;
  document.addEventListener("click", (event) => {
    const chip = event.target.closest ? event.target.closest("[data-seek]") : null;
    if (!chip) return;
    const seconds = parseFloat(chip.dataset.seek);
    const player = document.querySelector("#video-input video");
    if (player && isFinite(seconds)) {
      player.currentTime = seconds;
      player.dispatchEvent(new Event("seeked-by-chip"));
    }
    document.querySelectorAll("#video-frames .seek-frame").forEach((el) => el.classList.remove("seek-frame"));
    const frames = document.querySelectorAll("#video-frames .thumbnail-item, #video-frames button.thumbnail-small");
    const k = parseInt(chip.dataset.frame, 10);
    if (frames[k]) {
      frames[k].classList.add("seek-frame");
      frames[k].scrollIntoView({ block: "nearest", inline: "nearest" });
    }
  });
}
