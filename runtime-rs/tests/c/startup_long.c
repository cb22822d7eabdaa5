/* startup_long: a program that never reaches an update point opens a file
 * 20000 times; its startup record must stop growing (at 10000 entries). */
#include <fcntl.h>
#include <unistd.h>

int main(void) {
    for (int i = 0; i < 20000; i++) {
        int fd = open("/dev/null", O_RDONLY);
        if (fd < 0)
            return 1;
        close(fd);
    }
    return 0;
}
