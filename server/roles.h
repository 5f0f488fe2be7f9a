/* Entry points of the roles; main() picks one from argv[0]. */
#ifndef WSD_ROLES_H
#define WSD_ROLES_H

int daemon_main(int argc, char **argv);
int listener_main(void);
int manager_main(void);
int worker_main(void);

#endif
