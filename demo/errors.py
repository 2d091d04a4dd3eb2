"""Every sentence the app says to a user about a problem, in one place (FastChat's ``constants.py`` idea).

Errors carry a code and format fields; the page shows ``str(error)``, tests refer to codes, and no message
ever contains a stack trace.
"""

from __future__ import annotations

MESSAGES = {
    # engines
    "server_unavailable": "The model server is not reachable right now ({detail}). Please try again in a moment.",
    "server_restarting": "The model server is restarting after a failure. Please try again in a moment.",
    "server_unresponsive": "The model server is not responding ({detail}); it is restarted if it does not recover. "
                           "Please try again in a moment.",
    "server_starting": "The model server is still starting. Please try again in a moment.",
    "server_error": "The model server reported an error: {detail}",
    "server_needs_mm_kwargs": "The model server refuses the video's frame timing. Start it with "
                              "--trust-request-mm-kwargs (docs/attach.md), or use --video-via worker.",
    "server_lost": "The model server stopped in the middle of the answer. It is being restarted; "
                   "please try again in a moment.",
    "server_busy": "The model server did not take the request within {seconds:.0f} s; it may be busy. "
                   "Please try again in a moment.",
    "server_timeout": "The model server did not answer within {seconds:.0f} s. Please try again.",
    "too_long": "This conversation is too long for the model's context ({max_model_len} tokens). "
                "Clear the chat or ask a shorter question.",
    "worker_unavailable": "The video worker is not available right now ({detail}). Please try again in a moment.",
    "worker_crashed": "The video worker stopped while answering ({detail}). It is restarting; please try again.",
    "worker_timeout": "The video answer took longer than {seconds:.0f} s and was stopped. "
                      "Try fewer frames or a shorter clip.",
    "worker_failed": "The video worker could not answer: {detail}",
    # videos
    "missing": "Please upload a video.",
    "unreadable": "This file could not be read as a video. Please upload an MP4, WebM, MOV, AVI or MKV file.",
    "no_frames": "This video has no frames that could be decoded.",
    "no_room": "There is no room for video frames in the context: only {budget} tokens are left for them. "
               "Raise --max-model-len or lower --video-max-tokens.",
    "bad_video_settings": "fps, max_frames, start and end must be numbers.",
    "moments_phrase": "Type what to look for, for example: the man opens the door.",
    "too_slow": "Reading this video took too long and was stopped. "
                "The file may be damaged; please try another file or format.",
    # images
    "image_unreadable": "“{name}” could not be read as an image. "
                        "Please use a JPEG, PNG, WebP, GIF or BMP file.",
    "image_too_large": "“{name}” is too large ({size}); the limit is {limit:.0f} megapixels.",
    # text
    "bad_settings": "Temperature, top-p, top-k, max tokens and presence penalty must be numbers, and thinking "
                    "auto, on or off.",
    "empty": "Please type a message.",
    # bad input (issue 4)
    "video_empty": "This file is empty (0 bytes). Please upload the video again.",
    "video_is_image": "This file is a still image, not a video. Please ask about it in the Image tab.",
    "audio_only": "This file has sound but no picture. Please upload a video with a picture track.",
    "remote_file": "Files must be uploaded: a link (http or https) in place of a file is not accepted.",
    "image_gone": "An image from earlier in this conversation is no longer on the server (uploads are kept for "
                  "{hours} hours). Please add it again, or start a new conversation.",
    "image_missing": "Please add an image (upload, paste or webcam).",
    "ground_phrase": "Type what to find in the image, for example: cup.",
    "nothing_found": "The model's answer held no box or point.",
    "too_many_images": "A conversation can hold at most {limit:.0f} images. "
                       "Start a new conversation to ask about more.",
    # conversation files (demo/inputs/conversation_file.py)
    "import_unreadable": "This file could not be read as a conversation: it is not JSON text.",
    "import_not_ours": "This file is not a conversation saved by this demo.",
    "import_newer": "This conversation was saved by a newer version of the demo (file format {version}; "
                    "this one reads format {supported}). Please update the demo to open it.",
    "import_too_large": "This conversation file is too large ({size}); the limit is {limit}.",
    "import_bad": "This conversation file is damaged and could not be opened: {detail}.",
    "import_not_stored": "This conversation's images could not be stored on the server ({reason}); nothing was "
                         "loaded.",
    "video_history_images": "A video's earlier turns are text only, and this history holds images (a Chat or Image "
                            "conversation): ask about those in /chat.",
    "import_no_video": "This conversation has no video frames: load it in the Chat or Image tab.",
}


class UserFacingError(Exception):
    """An error whose ``str()`` is a sentence for the user; ``code`` names it for tests and logs."""

    def __init__(self, code: str, **fields):
        self.code = code
        self.fields = fields
        super().__init__(MESSAGES[code].format(**fields))


class VideoError(UserFacingError):
    """A video that cannot be used as given."""


class ImageError(UserFacingError):
    """An image that cannot be used."""


class EngineError(UserFacingError):
    """An engine that is unavailable, failed, or took too long."""
