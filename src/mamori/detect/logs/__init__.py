"""Log anomaly detection: templates mined from raw logs, rare and surging templates per
source, and SSH password guessing seen in sshd's lines."""

from mamori.detect.logs.rare import RareTemplate
from mamori.detect.logs.ssh import SshBruteForce
from mamori.detect.logs.surge import TemplateSurge

__all__ = ["RareTemplate", "SshBruteForce", "TemplateSurge"]
