"""The web demo (``rsn-demo``): a local page to try a model on a photo (rsn_tf/demo/app.py)."""
