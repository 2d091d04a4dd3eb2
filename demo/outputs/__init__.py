"""What the page makes of an answer or a request: HTML with seek chips, an image with its boxes drawn, the request
as a script and a curl command. No Gradio and no engine: ``demo/ui`` shows these, the tests read them directly."""
