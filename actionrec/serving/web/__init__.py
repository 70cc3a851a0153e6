"""The small web app: upload a video (or give its URL) -> predicted action, class probabilities
and a timeline, from the packaged live bundle (``actionrec serve``; see :mod:`actionrec.serving.web.app`)."""
