"""The order of the examples in the gallery: from first steps to details."""

ORDER = (
    "plot_quickstart.py",
    "plot_image_text_alignment.py",
    "plot_sensor_alignment.py",
    "plot_raw_digits_captions.py",
    "plot_raw_sensor_windows.py",
    "plot_grid_search.py",
    "plot_compare_estimators.py",
    "plot_csls_hubness.py",
    "plot_zero_shot.py",
    "plot_semi_paired.py",
    "plot_multiview.py",
)


class ExampleOrder:
    """Sort key for sphinx-gallery: listed examples first, in ``ORDER``."""

    def __init__(self, src_dir=None):
        self.src_dir = src_dir

    def __call__(self, filename):
        if filename in ORDER:
            return (0, ORDER.index(filename), filename)
        return (1, 0, filename)

    def __repr__(self):
        return "ExampleOrder"
