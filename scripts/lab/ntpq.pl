#!/usr/bin/perl
# scripts/lab/ntpq.pl - send one NTP client request, print the server's stratum and refid
# Usage: ntpq.pl ADDRESS [TIMEOUT_SECONDS]
# Prints "STRATUM REFID_HEX" and exits 0, or exits 1 when nothing valid answered.
use strict;
use warnings;
use IO::Socket::IP;
use IO::Select;
use Time::HiRes qw(time);

my ($addr, $timeout) = @ARGV;
die "usage: ntpq.pl ADDRESS [TIMEOUT]\n" unless defined $addr;
$timeout = 1 unless defined $timeout;

my $sock = IO::Socket::IP->new(PeerHost => $addr, PeerPort => 123, Proto => 'udp')
	or exit 1;
# 48-byte request: LI 0, version 4, mode 3; a random transmit timestamp is the nonce.
my $nonce = pack('NN', int(rand(2**32)), int(rand(2**32)));
my $req = pack('C', 0x23) . ("\0" x 39) . $nonce;
$sock->send($req) or exit 1;

my $sel = IO::Select->new($sock);
my $deadline = time + $timeout;
while ((my $left = $deadline - time) > 0) {
	last unless $sel->can_read($left);
	my $buf;
	last unless defined $sock->recv($buf, 512);
	next if length($buf) < 48;
	my ($flags, $stratum) = unpack('CC', $buf);
	next unless ($flags & 7) == 4;              # server mode
	next unless substr($buf, 24, 8) eq $nonce;  # origin timestamp echoes our nonce
	printf "%d %s\n", $stratum, unpack('H8', substr($buf, 12, 4));
	exit 0;
}
exit 1;
