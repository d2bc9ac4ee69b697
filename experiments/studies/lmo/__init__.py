"""The inexact-LMO study: the error delta of Newton–Schulz and Polar Express three ways, on
worst-case spectra and on the momenta runs meet, the delta-dependent bounds held against runs,
and the precision/parameter coupling."""
