"""The Qt user interface of bnviz: main window, worker and plot panels."""
