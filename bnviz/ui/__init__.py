"""The Qt user interface of bnviz: main window, training client and plot panels."""
