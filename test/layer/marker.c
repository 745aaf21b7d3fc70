// SPDX-License-Identifier: MIT
/* The function's own preload in the layer test: a library with nothing in
 * it but a symbol, so that /proc/self/maps shows whether it was loaded. */
int layer_marker_loaded = 1;
