/* Not a kernel: a few functions named as the kernel's network stack has
 * them, each a 64 KiB body on the line of its name, with DWARF line info.
 * For testing --vmlinux's mapping of live kernel frames (name + offset) to
 * file:line without a real vmlinux: any offset into one of these lands on
 * that function's line. */
#define BODY __asm__ volatile(".skip 65536, 0x90")
void __sys_sendto(void) { BODY; }
void __x64_sys_sendto(void) { BODY; }
void tcp_sendmsg(void) { BODY; }
void tcp_sendmsg_locked(void) { BODY; }
void __tcp_push_pending_frames(void) { BODY; }
void tcp_write_xmit(void) { BODY; }
void __tcp_transmit_skb(void) { BODY; }
void __ip_queue_xmit(void) { BODY; }
void ip_finish_output2(void) { BODY; }
void __dev_queue_xmit(void) { BODY; }

int main(void)
{
    return 0;
}
