"""The FixRes technique itself, free of Kedro and of TensorFlow.

``transforms`` holds the per-image operations (crop box sampling, bilinear resize,
centre crop, flip), ``input_pipeline`` the three recipes of the Keras example and the
batch loader that feeds ``model.fit`` on any Keras backend, ``model`` the ResNet50V2
classifier and the BN-only freezing. The Kedro nodes in ``fixres_kedro.pipelines`` are
thin wrappers around these functions.
"""
