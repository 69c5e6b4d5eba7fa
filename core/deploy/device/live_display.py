"""What live.py shows: the frame with its anomaly overlay, an OK/NG banner, and a panel of readouts, on one canvas.

`compose` draws the canvas (BGR uint8, the window's size) from a `View` of the numbers; `open_window` puts it on
the attached display full screen with OpenCV's highgui (JetPack's python3-opencv), else jetson-utils'
videoOutput("display://0") when installed, else a Tk window (pip's opencv-python-headless has no GUI). Headless
runs draw the same canvas, so --screenshot writes what the screen would show.

Python 3.8 syntax; numpy and OpenCV.
"""

from typing import List, Optional, Sequence, Tuple

import cv2
import numpy as np

OK_BGR = (60, 160, 40)
NG_BGR = (40, 40, 200)
PANEL_BGR = (32, 32, 32)
TEXT_BGR = (235, 235, 235)
DIM_BGR = (150, 150, 150)
BANNER_HEIGHT = 64
PANEL_WIDTH = 400
FONT = cv2.FONT_HERSHEY_SIMPLEX


class View:
    """The numbers of one frame, as the panel shows them."""

    def __init__(self, verdict: str, score: float, threshold: float, category: str, lines: Sequence[str],
                 paused: bool = False) -> None:
        self.verdict, self.score, self.threshold, self.category = verdict, score, threshold, category
        self.lines, self.paused = list(lines), paused


def overlay(frame: np.ndarray, heat: np.ndarray, opacity: float = 0.5) -> np.ndarray:
    """The RGB frame with the 0..1 heat map blended in (JET colours) where it is hot; cold areas stay as they are."""
    height, width = frame.shape[:2]
    heat = cv2.resize(heat, (width, height), interpolation=cv2.INTER_LINEAR)
    colours = cv2.cvtColor(cv2.applyColorMap(np.round(heat * 255).astype(np.uint8), cv2.COLORMAP_JET),
                           cv2.COLOR_BGR2RGB)
    alpha = np.ascontiguousarray(opacity * heat, np.float32)
    return cv2.blendLinear(frame, colours, 1.0 - alpha, alpha)  # one pass in OpenCV: ~1.5x numpy's float math


def fit(image: np.ndarray, width: int, height: int) -> Tuple[np.ndarray, int, int]:
    """`image` scaled to fit `width` x `height` with its aspect ratio, and the offsets that centre it."""
    scale = min(width / image.shape[1], height / image.shape[0])
    size = (max(1, int(image.shape[1] * scale)), max(1, int(image.shape[0] * scale)))
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    resized = cv2.resize(image, size, interpolation=interpolation)
    return resized, (width - size[0]) // 2, (height - size[1]) // 2


def compose(shown_rgb: np.ndarray, view: View, size: Tuple[int, int]) -> np.ndarray:
    """The whole window (BGR): banner on top, the overlaid frame on the left, the readouts panel on the right."""
    width, height = size
    canvas = np.full((height, width, 3), PANEL_BGR, np.uint8)
    ng = view.verdict == "NG"
    cv2.rectangle(canvas, (0, 0), (width, BANNER_HEIGHT), NG_BGR if ng else OK_BGR, thickness=-1)
    title = "{}   score {:.4g} / threshold {:.4g}{}".format(
        view.verdict, view.score, view.threshold, "   ({})".format(view.category) if view.category else "")
    cv2.putText(canvas, title, (16, 44), FONT, 1.1, (255, 255, 255), 2, cv2.LINE_AA)
    if view.paused:
        cv2.putText(canvas, "PAUSED", (width - 170, 44), FONT, 1.0, (255, 255, 255), 2, cv2.LINE_AA)
    area_w, area_h = width - PANEL_WIDTH, height - BANNER_HEIGHT
    image, left, top = fit(cv2.cvtColor(shown_rgb, cv2.COLOR_RGB2BGR), area_w, area_h)
    canvas[BANNER_HEIGHT + top:BANNER_HEIGHT + top + image.shape[0], left:left + image.shape[1]] = image
    _panel(canvas, view.lines, area_w + 16, BANNER_HEIGHT + 34)
    return canvas


def _panel(canvas: np.ndarray, lines: List[str], x: int, y: int) -> None:
    for line in lines:
        if y > canvas.shape[0] - 8:
            break
        heading = line.endswith(":")
        cv2.putText(canvas, line, (x, y), FONT, 0.55, DIM_BGR if heading else TEXT_BGR, 1, cv2.LINE_AA)
        y += 26


class Window:
    """Where the canvas goes; `show(canvas) -> key` ("" when none was pressed), `closed` once the user closed it."""

    closed = False

    def show(self, canvas: np.ndarray) -> str:
        return ""

    def close(self) -> None:
        pass


class OpenCvWindow(Window):
    NAME = "Inspection Station (device)"

    def __init__(self, fullscreen: bool) -> None:
        cv2.namedWindow(self.NAME, cv2.WINDOW_NORMAL)
        if fullscreen:
            cv2.setWindowProperty(self.NAME, cv2.WND_PROP_FULLSCREEN, cv2.WINDOW_FULLSCREEN)

    def show(self, canvas: np.ndarray) -> str:
        cv2.imshow(self.NAME, canvas)
        key = cv2.waitKey(1) & 0xFF
        try:
            self.closed = cv2.getWindowProperty(self.NAME, cv2.WND_PROP_VISIBLE) < 1
        except cv2.error:
            self.closed = True
        return chr(key) if key != 0xFF else ""

    def close(self) -> None:
        cv2.destroyAllWindows()


class JetsonUtilsWindow(Window):
    """jetson-utils' OpenGL display (no key events: quit by closing the window or stopping the service)."""

    def __init__(self) -> None:
        import jetson_utils  # noqa: PLC0415 - only on a Jetson with jetson-utils

        self._utils = jetson_utils
        self._output = jetson_utils.videoOutput("display://0")

    def show(self, canvas: np.ndarray) -> str:
        image = self._utils.cudaFromNumpy(np.ascontiguousarray(cv2.cvtColor(canvas, cv2.COLOR_BGR2RGB)))
        self._output.Render(image)
        self.closed = not self._output.IsStreaming()
        return ""

    def close(self) -> None:
        self._output.Close()


class TkWindow(Window):
    """A Tk window (Python's own tkinter) where OpenCV was built without a GUI and jetson-utils is absent: a pip
    opencv-python-headless on the device, or a test machine under Xvfb. Keys work as in the OpenCV window."""

    def __init__(self, fullscreen: bool) -> None:
        import tkinter  # noqa: PLC0415 - only when needed (python3-tk on the device)

        self._tk = tkinter
        self._root = tkinter.Tk()
        self._root.title(OpenCvWindow.NAME)
        self._root.configure(background="black")
        if fullscreen:
            self._root.attributes("-fullscreen", True)
        self._label = tkinter.Label(self._root, borderwidth=0, background="black")
        self._label.pack(fill="both", expand=True)
        self._keys = []  # type: List[str]
        self._root.bind("<Key>", lambda event: self._keys.append(event.char))
        self._root.protocol("WM_DELETE_WINDOW", self._closed_by_user)
        self._photo = None

    def _closed_by_user(self) -> None:
        self.closed = True

    def show(self, canvas: np.ndarray) -> str:
        width, height = self._root.winfo_width(), self._root.winfo_height()
        if width > 1 and height > 1 and (width, height) != (canvas.shape[1], canvas.shape[0]):
            canvas = cv2.resize(canvas, (width, height), interpolation=cv2.INTER_AREA)
        rgb = cv2.cvtColor(canvas, cv2.COLOR_BGR2RGB)
        header = "P6 {} {} 255\n".format(rgb.shape[1], rgb.shape[0]).encode()
        self._photo = self._tk.PhotoImage(data=header + rgb.tobytes(), format="PPM")  # keep a reference
        self._label.configure(image=self._photo)
        self._root.update()
        return self._keys.pop(0) if self._keys else ""

    def close(self) -> None:
        try:
            self._root.destroy()
        except self._tk.TclError:
            pass


def has_highgui() -> bool:
    for line in cv2.getBuildInformation().splitlines():
        if line.strip().startswith("GUI:"):
            return "NONE" not in line
    return True


def open_window(headless: bool, fullscreen: bool, problems: Optional[List[str]] = None) -> Window:
    """The display window; a plain `Window` (draws nothing) when headless. Raises RuntimeError with the reason
    when no display can be opened (no DISPLAY, an OpenCV without GUI and no jetson-utils)."""
    if headless:
        return Window()
    if has_highgui():
        try:
            return OpenCvWindow(fullscreen)
        except cv2.error as error:
            if problems is not None:
                problems.append("OpenCV window: {}".format(str(error).strip().splitlines()[-1]))
    try:
        return JetsonUtilsWindow()
    except ImportError:
        pass
    try:
        return TkWindow(fullscreen)
    except Exception as error:  # noqa: BLE001 - ImportError (no python3-tk) or TclError (no display)
        reason = str(error).strip() or type(error).__name__
    raise RuntimeError("no display ({}): OpenCV has no GUI here (opencv-python-headless?), jetson-utils is not "
                       "installed, and Tk could not open a window; set DISPLAY=:0 for the desktop session, install "
                       "JetPack's python3-opencv, or run --headless".format(reason))
