"""Every sentence the app says to a user about a problem, in one place (FastChat's ``constants.py`` idea).

Errors carry a code and format fields; ``str(error)`` is the English sentence (logs, tests), ``error.sentence(lang)``
the one in the visitor's language (MESSAGES_ZH: the same keys in Chinese); tests refer to codes, and no message ever
contains a stack trace.
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
    # the API's arguments (demo/ui/api.py)
    "api_history_shape": 'history must be a list of {{"role": "user" or "assistant", "content": "text"}}, or a '
                         'conversation downloaded from the page.',
    "api_history_order": "history must alternate user and assistant turns, starting with the user's.",
    "api_bad_kind": "kind must be one of {detail}.",
    # documents (issue 29: demo/inputs/pdf_pages.py, doc_budget.py, demo/outputs/doc_parse.py, the Document tab)
    "pdf_missing": "Please upload a PDF file.",
    "pdf_empty": "“{name}” is empty (0 bytes). Please upload the PDF again.",
    "pdf_not_pdf": "“{name}” is not a PDF file. Please upload a PDF.",
    "pdf_damaged": "“{name}” is damaged and could not be read as a PDF.",
    "pdf_encrypted": "“{name}” is protected by a password. Please upload a copy without the password.",
    "pdf_too_many_pages": "“{name}” has {pages} pages; the limit is {limit}. Please upload the part you want to ask "
                          "about.",
    "pdf_page_too_large": "Page {page} is {width:.0f} x {height:.0f} points, larger than a PDF page may be "
                          "({limit} points a side), and was not drawn.",
    "pdf_page_shape": "Page {page} ({width:.0f} x {height:.0f} points) is too narrow or too small to be read.",
    "pdf_too_slow": "Reading this PDF took longer than {seconds:.0f} s and was stopped. The file may be damaged.",
    "pdf_bad_pages": "Pages must be a page number or a range such as 3-7, between 1 and {count}; leave it empty for "
                     "the whole document.",
    "pdf_no_room": "There is no room for a page in the context: only {budget} tokens are left for pages. "
                   "Lower the maximum answer length.",
    "parse_nothing": "The model's answer held no layout block to show.",
    "pdf_pages_too_long": "The pages asked for are written in more than {limit} characters or {parts} parts; "
                          "name them with ranges such as 1-40, or leave it empty for the whole document.",
    # image detail (issue 29: demo/inputs/images.py, demo/ui/image_detail.py)
    "bad_detail": "The detail “{value}” is not one of {levels}.",
    # regions (issue 29: demo/inputs/region.py, demo/ui/image_region.py, /ask_region)
    "region_bad_box": "A region is four numbers from 0 to 1000, x1, y1, x2, y2 (its left, top, right and bottom, "
                      "relative to the image), for example [100, 200, 400, 500]; “{given}” is not.",
    "region_empty": "The region “{given}” has no width or no height: x2 must differ from x1, and y2 from y1.",
    "region_no_image": "Add an image first, then click two corners of the region on it.",
    # live camera (issue 29: demo/inputs/camera_clip.py, the Live tab)
    "live_empty": "There are no camera frames from the last {seconds:.0f} s to ask about. Press Record under the "
                  "camera, wait until a few frames are in the window, then ask.",
}


# The same sentences in Simplified Chinese: the same keys and the same format fields (tests/unit/test_texts.py).
# A page shows the one in its language (demo/ui/texts.py request_language); logs and tests read the English one.
MESSAGES_ZH = {
    # engines
    "server_unavailable": "暂时无法连接模型服务（{detail}），请稍后再试。",
    "server_restarting": "模型服务出错后正在重启，请稍后再试。",
    "server_unresponsive": "模型服务没有响应（{detail}）；若不能恢复，它会被重启。请稍后再试。",
    "server_starting": "模型服务仍在启动中，请稍后再试。",
    "server_error": "模型服务报告了一个错误：{detail}",
    "server_needs_mm_kwargs": "模型服务拒绝了视频的帧时间信息。请用 --trust-request-mm-kwargs 启动它"
                              "（见 docs/attach.md），或改用 --video-via worker。",
    "server_lost": "模型服务在回答中途停止了，正在重启，请稍后再试。",
    "server_busy": "模型服务在 {seconds:.0f} 秒内没有接收请求，可能正忙，请稍后再试。",
    "server_timeout": "模型服务在 {seconds:.0f} 秒内没有回答，请重试。",
    "too_long": "这段对话超出了模型的上下文长度（{max_model_len} 个 token）。请清空对话，或把问题问得短一些。",
    "worker_unavailable": "视频工作进程暂时不可用（{detail}），请稍后再试。",
    "worker_crashed": "视频工作进程在回答时停止了（{detail}），正在重启，请重试。",
    "worker_timeout": "视频回答超过 {seconds:.0f} 秒，已被停止。请减少帧数或换一段更短的视频。",
    "worker_failed": "视频工作进程无法回答：{detail}",
    # videos
    "missing": "请上传一段视频。",
    "unreadable": "无法把这个文件当作视频读取。请上传 MP4、WebM、MOV、AVI 或 MKV 文件。",
    "no_frames": "这段视频里没有能解码的帧。",
    "no_room": "上下文中已没有放视频帧的空间：只剩 {budget} 个 token。"
               "请调大 --max-model-len 或调小 --video-max-tokens。",
    "bad_video_settings": "fps、最大帧数、开始和结束时间都必须是数字。",
    "moments_phrase": "请输入要找的内容，例如：男人打开了门。",
    "too_slow": "读取这段视频用时过长，已被停止。文件可能已损坏，请换一个文件或格式。",
    # images
    "image_unreadable": "无法把“{name}”当作图片读取。请使用 JPEG、PNG、WebP、GIF 或 BMP 文件。",
    "image_too_large": "“{name}”太大（{size}），上限是 {limit:.0f} 百万像素。",
    # text
    "bad_settings": "温度、top-p、top-k、最大 token 数和存在惩罚都必须是数字，思考模式须为 auto、on 或 off。",
    "empty": "请输入一条消息。",
    # bad input (issue 4)
    "video_empty": "这个文件是空的（0 字节），请重新上传视频。",
    "video_is_image": "这个文件是一张静态图片，不是视频。请到“图像”标签页提问。",
    "audio_only": "这个文件只有声音，没有画面。请上传带画面的视频。",
    "remote_file": "文件必须上传：不接受用链接（http 或 https）代替文件。",
    "image_gone": "这段对话前面的一张图片已不在服务器上（上传的文件保留 {hours} 小时）。请重新添加它，或开始新的对话。",
    "image_missing": "请添加一张图片（上传、粘贴或用摄像头拍摄）。",
    "ground_phrase": "请输入要在图中查找的东西，例如：杯子。",
    "nothing_found": "模型的回答里没有框，也没有点。",
    "too_many_images": "一段对话最多只能包含 {limit:.0f} 张图片。要问更多图片，请开始新的对话。",
    # conversation files (demo/inputs/conversation_file.py)
    "import_unreadable": "无法把这个文件当作对话读取：它不是 JSON 文本。",
    "import_not_ours": "这个文件不是本演示保存的对话。",
    "import_newer": "这段对话是由更新版本的演示保存的（文件格式 {version}；当前版本读取格式 {supported}）。"
                    "请更新演示后再打开。",
    "import_too_large": "这个对话文件太大（{size}），上限是 {limit}。",
    "import_bad": "这个对话文件已损坏，无法打开：{detail}。",
    "import_not_stored": "这段对话的图片无法保存到服务器上（{reason}），因此什么也没有加载。",
    "video_history_images": "视频的前几轮只能是文字，而这段历史里有图片（来自“聊天”或“图像”的对话）："
                            "请用 /chat 提问这些内容。",
    "import_no_video": "这段对话没有视频帧：请在“聊天”或“图像”标签页中加载它。",
    # the API's arguments (demo/ui/api.py)
    "api_history_shape": 'history 必须是由 {{"role": "user" 或 "assistant", "content": "文本"}} 组成的列表，'
                         '或从页面下载的对话文件。',
    "api_history_order": "history 必须由 user 和 assistant 交替组成，并以 user 开头。",
    "api_bad_kind": "kind 必须是以下之一：{detail}。",
    # live camera (issue 29: demo/inputs/camera_clip.py, the Live tab)
    "live_empty": "最近 {seconds:.0f} 秒内没有摄像头画面可供提问。"
                  "请点击摄像头下方的“录制”，等窗口里有几帧画面后再提问。",
    # image detail (issue 29: demo/inputs/images.py, demo/ui/image_detail.py)
    "bad_detail": "细节“{value}”不是 {levels} 之一。",
    # regions (issue 29: demo/inputs/region.py, demo/ui/image_region.py, /ask_region)
    "region_bad_box": "区域是 0 到 1000 之间的四个数 x1、y1、x2、y2（相对于图片的左、上、右、下边），"
                      "例如 [100, 200, 400, 500]；“{given}”不是。",
    "region_empty": "区域“{given}”没有宽度或高度：x2 必须不同于 x1，y2 必须不同于 y1。",
    "region_no_image": "请先添加一张图片，再在图上点击区域的两个对角。",
    # documents (issue 29: demo/inputs/pdf_pages.py, doc_budget.py, demo/outputs/doc_parse.py, the Document tab)
    "pdf_missing": "请上传一个 PDF 文件。",
    "pdf_empty": "“{name}”是空的（0 字节），请重新上传这个 PDF。",
    "pdf_not_pdf": "“{name}”不是 PDF 文件，请上传 PDF。",
    "pdf_damaged": "“{name}”已损坏，无法作为 PDF 读取。",
    "pdf_encrypted": "“{name}”受密码保护，请上传一份没有密码的副本。",
    "pdf_too_many_pages": "“{name}”有 {pages} 页，上限是 {limit} 页。请只上传要提问的那一部分。",
    "pdf_page_too_large": "第 {page} 页大小为 {width:.0f} x {height:.0f} 点，超过了 PDF 页面允许的尺寸"
                          "（每边 {limit} 点），因此没有绘制。",
    "pdf_page_shape": "第 {page} 页（{width:.0f} x {height:.0f} 点）太窄或太小，无法读取。",
    "pdf_too_slow": "读取这个 PDF 超过了 {seconds:.0f} 秒，已被停止。文件可能已损坏。",
    "pdf_bad_pages": "页码必须是 1 到 {count} 之间的一个页码或范围，例如 3-7；留空表示整个文档。",
    "pdf_no_room": "上下文中已没有放页面的空间：只剩 {budget} 个 token 可用于页面。请调小最大回答长度。",
    "parse_nothing": "模型的回答里没有可以显示的版面块。",
    "pdf_pages_too_long": "所填页码超过了 {limit} 个字符或 {parts} 段；请用 1-40 这样的范围表示，或留空表示整个文档。",
}


def message(code: str, lang: str = "en", **fields) -> str:
    """The sentence ``code`` in ``lang`` ("en" or "zh"), its fields filled."""
    return (MESSAGES_ZH if lang == "zh" else MESSAGES)[code].format(**fields)


class UserFacingError(Exception):
    """An error whose ``str()`` is a sentence for the user; ``code`` names it for tests and logs."""

    def __init__(self, code: str, **fields):
        self.code = code
        self.fields = fields
        super().__init__(MESSAGES[code].format(**fields))

    def sentence(self, lang: str = "en") -> str:
        """The same sentence in ``lang`` ("en" or "zh"): the page shows it in the visitor's language."""
        return message(self.code, lang, **self.fields)


class VideoError(UserFacingError):
    """A video that cannot be used as given."""


class ImageError(UserFacingError):
    """An image that cannot be used."""


class EngineError(UserFacingError):
    """An engine that is unavailable, failed, or took too long."""
