#!/usr/bin/perl
# perl with its standard modules under elfuse (tests/apps/cases.txt, case
# perl_modules): POSIX, List::Util, Data::Dumper, Storable, File::Temp,
# File::Find, Fcntl, Socket, IO::Socket::INET, IO::Select, Digest::MD5.
# Everything it writes goes to the run's fresh directory; the output names no
# port, pid, time or temporary name.
use strict;
use warnings;
use POSIX qw(floor ceil fmod strftime uname setlocale LC_ALL :sys_wait_h :errno_h);
use List::Util qw(sum0 max min first reduce pairs uniq shuffle any all);
use Data::Dumper;
use Storable qw(nstore retrieve dclone freeze thaw);
use File::Temp qw(tempfile tempdir);
use File::Find;
use File::Path qw(make_path remove_tree);
use Fcntl qw(:flock :mode O_RDWR O_CREAT O_EXCL SEEK_SET SEEK_END);
use Socket qw(AF_UNIX SOCK_STREAM PF_UNSPEC inet_aton inet_ntoa pack_sockaddr_in);
use IO::Socket::INET;
use IO::Select;
use IO::Handle;
use Digest::MD5 qw(md5_hex);

$| = 1;
$Data::Dumper::Sortkeys = 1;
$Data::Dumper::Indent   = 1;

# POSIX
printf "posix: floor %d ceil %d fmod %.1f %s\n", floor(-3.5), ceil(-3.5), fmod(17, 5),
  strftime("%Y-%m-%d %H:%M:%S %j", gmtime(1000000000));
printf "posix: sysname %s, ENOENT=%d EEXIST=%d, INT_MAX %d\n", (uname())[0], ENOENT, EEXIST, POSIX::INT_MAX;
my $fd = POSIX::open("posix.txt", POSIX::O_WRONLY | POSIX::O_CREAT, 0640);
POSIX::write($fd, "via posix\n", 10);
POSIX::close($fd);
printf "posix: read back %s", do { local (@ARGV, $/) = ("posix.txt"); <> };
printf "posix: isatty(0) %s, dup2 %d\n", POSIX::isatty(0) ? "yes" : "no", POSIX::dup2(1, 9);
POSIX::close(9);

# List::Util
my @n = map { ($_ * 37) % 101 } 1 .. 40;
printf "list: sum %d max %d min %d first>90 %d uniq %d reduce %d any %s all %s\n", sum0(@n), max(@n),
  min(@n), (first { $_ > 90 } @n), scalar(uniq(map { $_ % 10 } @n)), (reduce { ($a * 3 + $b) % 1000 } @n),
  (any { $_ == 74 } @n) ? "y" : "n", (all { $_ < 101 } @n) ? "y" : "n";
print "list: pairs ", join(",", map { "$_->[0]=$_->[1]" } pairs(a => 1, b => 2)), "\n";

# Data::Dumper and Storable
my $data = { name => "elfuse", list => [ 1, 2, [ 3, 4 ] ], nested => { x => undef, y => \"ref" }, num => 3.25 };
print Dumper($data);
nstore($data, "data.sto") or die;
my $back = retrieve("data.sto");
print "storable: ", Data::Dumper->new([$back])->Terse(1)->Indent(0)->Dump, "\n";
my $clone = dclone($data);
$clone->{list}[2][0] = 99;
print "storable: clone independent: ", ($data->{list}[2][0] == 3 ? "yes" : "no"), ", thaw ",
  thaw(freeze([ 5, 6 ]))->[1], ", size ", -s "data.sto", "\n";

# File::Temp, File::Path, File::Find, Fcntl
my $dir = tempdir("tmpXXXXXX", DIR => ".", CLEANUP => 1);
make_path("$dir/a/b", "$dir/c");
for my $f ("a/one.txt", "a/b/two.txt", "c/three.log", "top.txt") {
  open my $o, ">", "$dir/$f" or die "$f: $!";
  print $o "$f\n" x length($f);
  close $o;
}
my ($tfh, $tname) = tempfile(DIR => $dir, SUFFIX => ".tmp");
print $tfh "temporary\n";
close $tfh;
my @found;
find({ wanted => sub { push @found, $File::Find::name =~ s/^\Q$dir\E/DIR/r if -f }, no_chdir => 1 }, $dir);
print "find: ", join(" ", sort map { /\.tmp$/ ? "DIR/TEMP.tmp" : $_ } @found), "\n";
my $total = 0;
find(sub { $total += -s $_ if -f $_ && /\.txt$/ }, $dir);
print "find: txt bytes $total\n";
sysopen(my $lk, "lock.file", O_RDWR | O_CREAT | O_EXCL, 0600) or die "sysopen: $!";
print "fcntl: O_EXCL again: ", (sysopen(my $x, "lock.file", O_RDWR | O_CREAT | O_EXCL) ? "opened" : ($!{EEXIST} ? "EEXIST" : "$!")), "\n";
flock($lk, LOCK_EX | LOCK_NB) or die;
my $pid = fork;
if ($pid == 0) {
  open my $again, "<", "lock.file" or die;
  print "fcntl: child flock: ", (flock($again, LOCK_EX | LOCK_NB) ? "got it" : ($!{EWOULDBLOCK} ? "EWOULDBLOCK" : "$!")), "\n";
  POSIX::_exit(3);
}
waitpid($pid, 0);
printf "fcntl: child exited %d (WIFEXITED %d)\n", WEXITSTATUS($?), WIFEXITED($?) ? 1 : 0;
syswrite($lk, "0123456789");
sysseek($lk, 4, SEEK_SET);
sysread($lk, my $buf, 3);
printf "fcntl: read %s, end at %d\n", $buf, sysseek($lk, 0, SEEK_END);
my @st = stat("$dir/a");
printf "fcntl: S_ISDIR %d S_ISREG %d mode %04o\n", S_ISDIR($st[2]) ? 1 : 0, S_ISREG($st[2]) ? 1 : 0, S_IMODE((stat "lock.file")[2]);
remove_tree("$dir/a");
print "path: a removed: ", (-e "$dir/a" ? "no" : "yes"), "\n";

# Socket: a socketpair between parent and child
socketpair(my $p, my $c, AF_UNIX, SOCK_STREAM, PF_UNSPEC) or die "socketpair: $!";
$p->autoflush(1);
$c->autoflush(1);
$pid = fork;
if ($pid == 0) {
  close $p;
  while (my $line = <$c>) {
    chomp $line;
    print $c scalar(reverse $line), "\n";
  }
  POSIX::_exit(0);
}
close $c;
for my $w (qw(alpha socket pair)) {
  print $p "$w\n";
  my $r = <$p>;
  print "socketpair: $w -> $r";
}
shutdown($p, 1);
waitpid($pid, 0);
print "socketpair: child status $?\n";
print "socket: inet ", inet_ntoa(inet_aton("127.0.0.1")), ", sockaddr ", length(pack_sockaddr_in(80, inet_aton("10.1.2.3"))), " bytes\n";

# IO::Socket::INET: a server on an ephemeral loopback port, clients in
# children, served one at a time with IO::Select.
my $server = IO::Socket::INET->new(Listen => 5, LocalAddr => "127.0.0.1", LocalPort => 0, Proto => "tcp", ReuseAddr => 1)
  or die "listen: $@";
my $port = $server->sockport;
my @kids;
for my $k (1 .. 3) {
  my $kid = fork;
  if ($kid == 0) {
    my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1", PeerPort => $port, Proto => "tcp") or POSIX::_exit(9);
    print $s "client $k " . ("x" x (20000 * $k)) . "\n";
    my $answer = <$s>;
    POSIX::_exit($answer =~ /^md5 ([0-9a-f]{32}) len (\d+)$/ && $2 == length("client $k ") + 20000 * $k ? 0 : 8);
  }
  push @kids, $kid;
}
my $sel = IO::Select->new($server);
my @served;
while (@served < 3) {
  for my $ready ($sel->can_read(10)) {
    my $conn = $server->accept or die "accept: $!";
    my $line = <$conn>;
    chomp $line;
    my ($who) = $line =~ /^(client \d+)/;
    print $conn "md5 ", md5_hex($line), " len ", length($line), "\n";
    close $conn;
    push @served, "$who:" . length($line) . ":" . substr(md5_hex($line), 0, 8);
  }
}
my @codes = map { waitpid($_, 0); $? >> 8 } @kids;
print "inet: served ", join(" ", sort @served), "; client exits @codes\n";
close $server;

# Exit status through die in an eval and a last exit code
eval { die { code => 42 } };
print "eval: died with code $@->{code}\n";
exit 6;
